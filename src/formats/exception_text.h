/* The exceptions a thread has in flight, as the text dump shows them: a
 * summary after the thread's flags and one line per exception of the chain
 * under it. Private to formats/. */
#ifndef PYCOREPROF_FORMATS_EXCEPTION_TEXT_H
#define PYCOREPROF_FORMATS_EXCEPTION_TEXT_H

#include "pycoreprof/stacks.h"

/* " raising BError('b')" or " handling CError('c')", or nothing. */
void exception_text_summary(struct strbuf *sb, const struct thread_stack *ts);
/* "    raised at f (file:line), caught in g (file:line)" and the chain's
 * "    caused by ..." / "    while handling ..." lines. */
void exception_text_lines(struct strbuf *sb, const struct thread_stack *ts);

#endif
