/* Loads a profile file (or stdin) whole and hands it to the folded or the
 * JSON reader. Errors name the file. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cmd/profile_input.h"
#include "pycoreprof/profile_out.h"

int profile_input_read(struct aggregate *agg, const char *path)
{
	bool use_stdin = !path || !strcmp(path, "-");
	const char *origin = use_stdin ? "<stdin>" : path;
	FILE *in = use_stdin ? stdin : fopen(path, "rb");
	struct strbuf text = {0};
	char chunk[65536];
	int ret = 0;
	if (!in)
		return err_set_errno(errno == ENOENT ? ERR_NOENT : errno == EACCES ? ERR_PERM : ERR_IO, errno,
		                     "cannot open %s", path);
	struct stat st;
	/* One allocation for a regular file: profiles run to tens of MB. */
	if (fstat(fileno(in), &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0)
		strbuf_grow(&text, (size_t)st.st_size + 1);
	size_t n;
	while ((n = fread(chunk, 1, sizeof(chunk), in)) > 0)
		strbuf_add(&text, chunk, n);
	if (ferror(in)) {
		ret = err_set_errno(ERR_IO, errno, "cannot read %s", origin);
		goto out;
	}
	if (!strbuf_ok(&text)) {
		ret = -ERR_NOMEM;
		goto out;
	}
	size_t start = 0;
	while (start < text.len && strchr(" \t\r\n", text.buf[start]))
		start++;
	if (start < text.len && text.buf[start] == '{')
		ret = profile_read_json(agg, text.buf, text.len, origin);
	else if (text.len)
		ret = agg_read_folded_in_place(agg, text.buf, text.len, origin);
out:
	if (!use_stdin)
		fclose(in);
	strbuf_release(&text);
	return ret;
}
