/* Daemon logging: stderr when interactive, the journal (structured fields) under systemd.
 * coco/'s pure part never logs; only programs and services do. */
#pragma once
#include <stdarg.h>
#include <syslog.h>

enum coco_log_target { COCO_LOG_STDERR, COCO_LOG_JOURNAL };

/* Pick the target: journal when stderr is connected to it (JOURNAL_STREAM), else stderr. */
void coco_log_open(const char *ident);
void coco_log_set_level(int level);
int coco_log_get_level(void);
enum coco_log_target coco_log_target(void);
int coco_log_level_from_name(const char *s); /* -1 if unknown */
const char *coco_log_level_name(int level);

/* Extra journal fields: NULL-terminated list of "KEY=value" strings (may be NULL). */
void coco_log_full(int level, const char *func, const char *const *fields, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* With journal fields, e.g. log_fields(LOG_NOTICE, ((const char *[]){"COCOD_ACTOR=uid:0", NULL}), ...) */
#define log_fields(level, fields, ...) coco_log_full(level, __func__, fields, __VA_ARGS__)
#define log_debug(...) coco_log_full(LOG_DEBUG, __func__, NULL, __VA_ARGS__)
#define log_info(...) coco_log_full(LOG_INFO, __func__, NULL, __VA_ARGS__)
#define log_notice(...) coco_log_full(LOG_NOTICE, __func__, NULL, __VA_ARGS__)
#define log_warn(...) coco_log_full(LOG_WARNING, __func__, NULL, __VA_ARGS__)
#define log_err(...) coco_log_full(LOG_ERR, __func__, NULL, __VA_ARGS__)
