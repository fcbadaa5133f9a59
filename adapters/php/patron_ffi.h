#define FFI_SCOPE "PATRON"
#define FFI_LIB "libpatronclient.so.0"
/* patron_ffi.h -- libpatronclient declarations for PHP's ffi.preload (not a C header).
 * The two #define lines MUST stay the first bytes of the file: PHP honours FFI_SCOPE and
 * FFI_LIB only there (a comment before them makes php-fpm's master exit at start-up).
 * Owns: the FFI scope "PATRON" that Patron\Client::ffi() picks up with FFI::scope().
 * Invariant: the declarations match adapters/c/patronclient.h; Patron.php reads this file
 * for FFI::cdef() too, so it is the only copy.
 * FFI_LIB is the installed SONAME; for a library elsewhere, generate a header with
 * Patron\Client::ffiHeader('/path/libpatronclient.so.0') or use preload.php. */
typedef struct patron_client patron_client_t;
const char *patron_version(void);
const char *patron_strerror(int status);
patron_client_t *patron_open(const char *socket_path, int timeout_ms);
void patron_close(patron_client_t *c);
int patron_set_timeout(patron_client_t *c, int timeout_ms);
char *patron_call_json(patron_client_t *c, const char *method, const char *params_json, int *status);
void patron_free(void *p);
typedef struct patron_error { int status; char code[32]; char message[256]; char field[128]; } patron_error_t;
int patron_set_tls(patron_client_t *c, const char *cert_file, const char *key_file, const char *ca_file, patron_error_t *err);
