/*
 * log.h -- one JSON object per line on stderr (DESIGN §9).
 *
 *   {"ts":"2026-11-29T02:30:00.123Z","level":"info","mod":"seal","msg":"...", ...}
 *
 * cf_log() checks the level before evaluating its arguments (Redis), so a
 * debug line costs one comparison when debug is off. Each file defines
 * CF_LOG_MOD before including this header to name its module. Extra fields
 * are passed as a NULL-terminated list of key, value string pairs through
 * cf_logf(); values are JSON-escaped. Never pass a secret: there is no
 * redaction here, by design the caller never has one to pass.
 */
#ifndef CF_BASE_LOG_H
#define CF_BASE_LOG_H

typedef enum { CF_LOG_DEBUG = 0, CF_LOG_INFO, CF_LOG_WARN, CF_LOG_ERROR, CF_LOG_OFF } cf_log_level;

extern cf_log_level cf_log_threshold;

#ifndef CF_LOG_MOD
#define CF_LOG_MOD "coffer"
#endif

/* cf_log(CF_LOG_INFO, "started", "listen", addr, NULL) */
#define cf_log(level, msg, ...)                                                                    \
    do {                                                                                           \
        if ((level) >= cf_log_threshold)                                                           \
            cf_log_emit((level), CF_LOG_MOD, (msg), __VA_ARGS__);                                  \
    } while (0)

void cf_log_emit(cf_log_level level, const char *mod, const char *msg, ...);

/* Parses "debug|info|warn|error|off"; returns -1 on an unknown name. */
int cf_log_level_parse(const char *name, cf_log_level *out);

#endif
