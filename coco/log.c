#include "coco/log.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <systemd/sd-journal.h>
#include <time.h>
#include <unistd.h>

#include "coco/util.h"

static int log_level = LOG_INFO;
static enum coco_log_target log_target = COCO_LOG_STDERR;
static const char *log_ident = "cocod";


/* systemd sets JOURNAL_STREAM=dev:ino for the stream it connected stderr to. */
static bool stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	unsigned long long dev, ino;
	struct stat st;
	if (!e || sscanf(e, "%llu:%llu", &dev, &ino) != 2 || fstat(STDERR_FILENO, &st) < 0)
		return false;
	return (unsigned long long)st.st_dev == dev && (unsigned long long)st.st_ino == ino;
}

void coco_log_open(const char *ident)
{
	log_ident = ident;
	log_target = !isatty(STDERR_FILENO) && stderr_is_journal() ? COCO_LOG_JOURNAL
								   : COCO_LOG_STDERR;
}

void coco_log_set_level(int level) { log_level = level; }
int coco_log_get_level(void) { return log_level; }
enum coco_log_target coco_log_target(void) { return log_target; }

void coco_log_full(int level, const char *func, const char *const *fields, const char *fmt, ...)
{
	if (level > log_level)
		return;
	char msg[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);

	if (log_target == COCO_LOG_JOURNAL) {
		struct iovec iov[24];
		char f_msg[2100], f_prio[16], f_func[128], f_ident[64];
		size_t n = 0;
		snprintf(f_msg, sizeof(f_msg), "MESSAGE=%s", msg);
		snprintf(f_prio, sizeof(f_prio), "PRIORITY=%d", level);
		snprintf(f_func, sizeof(f_func), "CODE_FUNC=%s", func);
		snprintf(f_ident, sizeof(f_ident), "SYSLOG_IDENTIFIER=%s", log_ident);
		const char *base[] = {f_msg, f_prio, f_func, f_ident};
		for (size_t i = 0; i < ARRAY_SIZE(base); i++)
			iov[n++] = (struct iovec){.iov_base = (void *)base[i], .iov_len = strlen(base[i])};
		for (size_t i = 0; fields && fields[i] && n < ARRAY_SIZE(iov); i++)
			iov[n++] = (struct iovec){.iov_base = (void *)fields[i],
						  .iov_len = strlen(fields[i])};
		if (sd_journal_sendv(iov, (int)n) >= 0)
			return;
		/* Journal gone: fall through to stderr so the line is not lost. */
	}
	char extra[512] = "";
	size_t off = 0;
	for (size_t i = 0; fields && fields[i] && off < sizeof(extra) - 1; i++) {
		int w = snprintf(extra + off, sizeof(extra) - off, " %s", fields[i]);
		if (w < 0)
			break;
		off += (size_t)w;
	}
	fprintf(stderr, "%s[%d]: %s: %s%s\n", log_ident, (int)getpid(),
		coco_log_level_name(level), msg, extra);
}
