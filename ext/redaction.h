/* php.ini values as phpinfo() shows them, without the secrets they carry (ext/redaction.c). */
#ifndef PYB_REDACTION_H
#define PYB_REDACTION_H

#include "php.h"
#include "zend_smart_str.h"

/* `url` as pybroadcast/redaction.py's redact_url() shows it, but for the host of a URL with a
 * password, which stays as written. */
void pyb_redact_url(const char *url, size_t len, smart_str *out);

/* phpinfo()'s displayers: a secret shown as "***"; a URL as pyb_redact_url() shows it. */
ZEND_INI_DISP(pyb_display_secret);
ZEND_INI_DISP(pyb_display_url);

#endif
