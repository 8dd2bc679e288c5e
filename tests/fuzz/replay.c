/* Runs a harness over saved inputs without libFuzzer, so that gcc builds (debug, release,
 * asan) replay the seed corpus in CTest. Arguments are files or directories of files;
 * a directory that cannot be read or holds no file is an error. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tests/fuzz/fuzz.h"

/* The whole file in a buffer of exactly its size, so ASan sees any read past the input. */
static int read_input(const char *path, uint8_t **ret, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	struct stat st;
	int r = 0;
	if (fstat(fd, &st) < 0)
		r = -errno;
	else if (S_ISDIR(st.st_mode))
		r = -EISDIR; /* corpora are flat, as libFuzzer writes them */
	else if (!S_ISREG(st.st_mode))
		r = -EINVAL;
	if (r < 0) {
		close(fd);
		return r;
	}
	size_t len = (size_t)st.st_size;
	uint8_t *buf = malloc(len ? len : 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	size_t off = 0;
	while (off < len) {
		ssize_t n = read(fd, buf + off, len - off);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO; /* EIO: the file shrank under us */
			free(buf);
			close(fd);
			return r;
		}
		off += (size_t)n;
	}
	close(fd);
	*ret = buf;
	*ret_len = len;
	return 0;
}

static int run_file(const char *path)
{
	uint8_t *buf = NULL;
	size_t len = 0;
	int r = read_input(path, &buf, &len);
	if (r < 0) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(-r));
		return r;
	}
	/* Like libFuzzer's "Running:", so a failing replay names its input. */
	fprintf(stderr, "replay: running %s (%zu bytes)\n", path, len);
	LLVMFuzzerTestOneInput(buf, len);
	free(buf);
	return 0;
}

static int skip_dots(const struct dirent *d)
{
	return strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0;
}

/* Every entry of dir, in name order so a failure names the same input on every run. */
static int run_dir(const char *dir, size_t *n_run)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, skip_dots, alphasort);
	if (n < 0) {
		fprintf(stderr, "replay: %s: %s\n", dir, strerror(errno));
		return -errno;
	}
	int r = 0;
	size_t ran = 0;
	for (int i = 0; i < n; i++) {
		char path[4096];
		if (r == 0 && (size_t)snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name) >=
				  sizeof(path)) {
			fprintf(stderr, "replay: %s/%s: path too long\n", dir, ents[i]->d_name);
			r = -ENAMETOOLONG;
		}
		if (r == 0 && (r = run_file(path)) == 0)
			ran++;
		free(ents[i]);
	}
	free(ents);
	if (r == 0 && ran == 0) {
		fprintf(stderr, "replay: %s: no inputs\n", dir);
		r = -ENOENT;
	}
	*n_run += ran;
	return r;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE|DIR...\n", argv[0]);
		return 2;
	}
	size_t n_run = 0;
	for (int i = 1; i < argc; i++) {
		struct stat st;
		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		int r;
		if (S_ISDIR(st.st_mode)) {
			r = run_dir(argv[i], &n_run);
		} else {
			r = run_file(argv[i]);
			n_run += r == 0;
		}
		if (r < 0)
			return 1;
	}
	printf("replay: ran %zu inputs\n", n_run);
	return 0;
}
