/* Loads a profile file (or stdin) and hands it to the reader the format
 * table picks by its first character (folded stacks or our JSON). A
 * regular file whose reader takes a read-only mapping is mapped, not
 * copied: profiles run to tens of MB. Errors name the file. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/format_table.h"

static int read_stream(int fd, const char *origin, size_t size_hint, struct strbuf *text)
{
	char chunk[65536];
	if (size_hint)
		strbuf_grow(text, size_hint + 1);
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return err_set_errno(ERR_IO, errno, "cannot read %s", origin);
		if (n == 0)
			break;
		strbuf_add(text, chunk, (size_t)n);
	}
	return strbuf_ok(text) ? 0 : -ERR_NOMEM;
}

int profile_read_file(struct aggregate *agg, const char *path)
{
	bool use_stdin = !path || !strcmp(path, "-");
	const char *origin = use_stdin ? "<stdin>" : path;
	int fd = use_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set_errno(errno == ENOENT ? ERR_NOENT : errno == EACCES ? ERR_PERM : ERR_IO, errno,
		                     "cannot open %s", path);
	struct strbuf text = {0};
	int ret = 0;
	struct stat st;
	bool regular = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
	void *mapped = regular ? mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0) : MAP_FAILED;
	const struct format_info *format = mapped != MAP_FAILED ? format_reader_for(mapped, (size_t)st.st_size) : NULL;
	if (format && format->reads_mapped) {
		madvise(mapped, (size_t)st.st_size, MADV_SEQUENTIAL);
		ret = format->read(agg, mapped, (size_t)st.st_size, origin);
		goto out;
	}
	/* Readers that want a terminated text (JSON), pipes and the rest. */
	if ((ret = read_stream(fd, origin, regular ? (size_t)st.st_size : 0, &text)) < 0)
		goto out;
	if (text.len)
		ret = format_reader_for(text.buf, text.len)->read(agg, text.buf, text.len, origin);
out:
	if (mapped != MAP_FAILED)
		munmap(mapped, (size_t)st.st_size);
	if (!use_stdin)
		close(fd);
	strbuf_release(&text);
	return ret;
}
