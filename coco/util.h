/* Small helpers shared by every layer: cleanup attributes, array sizes, errno returns. */
#pragma once
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define streq(a, b) (strcmp((a), (b)) == 0)

static inline void freep(void *p) { free(*(void **)p); }
static inline void closep(int *fd) { if (*fd >= 0) close(*fd); }
static inline void fclosep(FILE **f) { if (*f) fclose(*f); }
#define _cleanup_(f) __attribute__((cleanup(f)))
#define _cleanup_free_ _cleanup_(freep)
#define _cleanup_close_ _cleanup_(closep)
#define _cleanup_fclose_ _cleanup_(fclosep)

/* Hand ownership out of a cleanup variable. */
#define TAKE_PTR(p) ({ __typeof__(p) _t = (p); (p) = NULL; _t; })
#define TAKE_FD(fd) ({ int _t = (fd); (fd) = -1; _t; })

/* Write a message into err (errlen bytes) and return r: the "fill the caller's message buffer
 * and fail" step of every pure function that reports why. */
int set_error(char *err, size_t errlen, int r, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* Strip trailing/leading blanks in place; returns the start. */
char *str_strip(char *s);
/* Parse an unsigned decimal integer in [0, max]; -EINVAL / -ERANGE. */
int parse_uint(const char *s, uint64_t max, uint64_t *ret);
/* Constant-time comparison of two equal-length buffers. */
bool mem_equal_ct(const void *a, const void *b, size_t n);
/* Read a whole file (at most max bytes) into a NUL-terminated buffer. */
int read_file_max(const char *path, size_t max, char **ret, size_t *ret_len);
/* Monotonic clock in nanoseconds. */
uint64_t now_ns(void);
/* An OFD lock (F_OFD_SETLK, whole file; type F_RDLCK or F_WRLCK) that waits at most until
 * deadline (now_ns() clock): F_OFD_SETLKW cannot time out, so it retries with a growing pause
 * (0.1 ms to 5 ms). 0, -ETIMEDOUT at the deadline, or the fcntl's -errno. */
int coco_ofd_lock_until(int fd, short type, uint64_t deadline);
/* Wall clock in Unix seconds, for records. */
int64_t now_unix(void);
/* 16 random bytes formatted as a RFC 4122 v4 UUID (37 bytes with NUL). */
int uuid_v4(char ret[static 37]);
/* Strict standard base64 (RFC 4648 section 4): padded, no whitespace, canonical. *ret is
 * malloc'd. -EINVAL when in is not that. */
int base64_decode(const char *in, size_t len, uint8_t **ret, size_t *ret_len);
/* NUL-terminated, malloc'd; NULL on allocation failure. */
char *base64_encode(const uint8_t *in, size_t len);
/* Lowercase hex of n bytes into out (2n+1 bytes). */
void hex_encode(const uint8_t *in, size_t n, char *out);
/* Exactly n bytes as 2n hex digits (either case); -EINVAL otherwise, out untouched. */
int hex_decode_exact(const char *s, uint8_t *out, size_t n);
