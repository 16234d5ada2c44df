/* php.ini values as phpinfo() shows them: a secret as "***", a URL without its password nor the
 * values of its secret query parameters, as pybroadcast/redaction.py shows URLs in messages and
 * logs (tests/test_redaction.py holds the two to one corpus). phpinfo() pages are often left
 * reachable; ini_get() still returns the values themselves. */
#include "php_pybroadcast.h"
#include "redaction.h"

#include "SAPI.h"
#include "php_main.h"

#include <ctype.h>
#include <string.h>

static int hex_digit(char c)
{
    return isdigit((unsigned char) c) ? c - '0' : isxdigit((unsigned char) c) ? tolower((unsigned char) c) - 'a' + 10 : -1;
}

/* redaction.secret_name() of a parameter's name as parse_qs reads it ('+' and %-escapes decoded). */
static bool secret_name(const char *name, size_t len)
{
    char decoded[256];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (n == sizeof decoded - 1) return true;  /* a name this long: hidden rather than read */
        if (name[i] == '%' && i + 2 < len && hex_digit(name[i + 1]) >= 0 && hex_digit(name[i + 2]) >= 0) {
            decoded[n++] = (char) tolower(hex_digit(name[i + 1]) * 16 + hex_digit(name[i + 2]));
            i += 2;
        } else {
            decoded[n++] = name[i] == '+' ? ' ' : (char) tolower((unsigned char) name[i]);
        }
    }
    decoded[n] = '\0';
    static const char *const words[] = {"pass", "secret", "token", "auth", "sig"};
    for (size_t i = 0; i < sizeof words / sizeof *words; i++) {
        if (memmem(decoded, n, words[i], strlen(words[i]))) return true;
    }
    return n >= 3 && memcmp(decoded + n - 3, "key", 3) == 0;
}

void pyb_redact_url(const char *url, size_t len, smart_str *out)
{
    const char *end = url + len, *netloc = NULL, *colon = memchr(url, ':', len);
    bool scheme = colon && colon > url && isalpha((unsigned char) url[0]);
    for (const char *c = url; scheme && c < colon; c++) {
        scheme = isalnum((unsigned char) *c) || strchr("+-.", *c);
    }
    if (scheme && end - colon >= 3 && colon[1] == '/' && colon[2] == '/') netloc = colon + 3;
    const char *rest = url;
    if (netloc) {  /* urlsplit: the netloc ends at '/', '?' or '#'; its user info at its last '@' */
        const char *netloc_end = netloc, *at = NULL;
        while (netloc_end < end && !strchr("/?#", *netloc_end)) {
            if (*netloc_end == '@') at = netloc_end;
            netloc_end++;
        }
        const char *password = at ? memchr(netloc, ':', (size_t) (at - netloc)) : NULL;
        if (password) {
            smart_str_appendl(out, url, (size_t) (password - url));
            smart_str_appends(out, ":***");
            rest = at;
        }
    }
    const char *query = memchr(rest, '?', (size_t) (end - rest)), *fragment = memchr(rest, '#', (size_t) (end - rest));
    if (!query || (fragment && fragment < query)) {
        smart_str_appendl(out, rest, (size_t) (end - rest));
        return;
    }
    smart_str_appendl(out, rest, (size_t) (query + 1 - rest));
    const char *piece = query + 1, *query_end = fragment ? fragment : end;
    while (piece <= query_end) {
        const char *piece_end = piece;
        while (piece_end < query_end && *piece_end != '&' && *piece_end != ';') piece_end++;
        const char *equals = memchr(piece, '=', (size_t) (piece_end - piece));
        if (equals && secret_name(piece, (size_t) (equals - piece))) {
            smart_str_appendl(out, piece, (size_t) (equals + 1 - piece));
            smart_str_appends(out, "***");
        } else {
            smart_str_appendl(out, piece, (size_t) (piece_end - piece));
        }
        if (piece_end < query_end) smart_str_appendc(out, *piece_end);
        piece = piece_end + 1;
    }
    smart_str_appendl(out, query_end, (size_t) (end - query_end));
}

/* As php_ini_displayer_cb shows a value, but `shown`. */
static void display(zend_ini_entry *entry, int type, void (*show)(zend_string *, smart_str *))
{
    zend_string *value = type == ZEND_INI_DISPLAY_ORIG && entry->modified ? entry->orig_value : entry->value;
    if (!value || !ZSTR_LEN(value)) {
        PUTS(sapi_module.phpinfo_as_text ? "no value" : "<i>no value</i>");
        return;
    }
    smart_str shown = {0};
    show(value, &shown);
    smart_str_0(&shown);
    if (sapi_module.phpinfo_as_text) {
        PHPWRITE(ZSTR_VAL(shown.s), ZSTR_LEN(shown.s));
    } else {
        php_html_puts(ZSTR_VAL(shown.s), ZSTR_LEN(shown.s));
    }
    smart_str_free(&shown);
}

static void hidden(zend_string *value, smart_str *out)
{
    smart_str_appends(out, "***");
}

static void redacted(zend_string *value, smart_str *out)
{
    pyb_redact_url(ZSTR_VAL(value), ZSTR_LEN(value), out);
}

ZEND_INI_DISP(pyb_display_secret)
{
    display(ini_entry, type, hidden);
}

ZEND_INI_DISP(pyb_display_url)
{
    display(ini_entry, type, redacted);
}
