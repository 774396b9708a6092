/* Runs one SQL statement in embedded chDB (libchdb.so, loaded at run time) and writes its output to stdout: the
   baseline of scripts/filemode-vs-chdb.sh, a whole process like `metering aggregate`. */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void *(*connect_fn)(int, char **);
typedef void (*close_fn)(void *);
typedef void *(*query_fn)(void *, const char *, const char *);
typedef char *(*buffer_fn)(void *);
typedef size_t (*length_fn)(void *);
typedef const char *(*error_fn)(void *);
typedef void (*destroy_fn)(void *);
typedef void (*signals_fn)(int);

static void *need(void *lib, const char *name) {
    void *f = dlsym(lib, name);
    if (!f) { fprintf(stderr, "libchdb.so has no %s\n", name); exit(2); }
    return f;
}

int main(int argc, char **argv) {
    if (argc != 5) { fprintf(stderr, "usage: chdb-query LIBCHDB DATA_DIR FORMAT SQL\n"); return 2; }
    void *lib = dlopen(argv[1], RTLD_NOW);
    if (!lib) { fprintf(stderr, "%s\n", dlerror()); return 2; }
    ((signals_fn)need(lib, "chdb_set_signal_handlers_enabled"))(0);
    char path[4096];
    snprintf(path, sizeof path, "--path=%s", argv[2]);
    char *args[] = { "clickhouse", path };
    void **conn = ((connect_fn)need(lib, "chdb_connect"))(2, args);
    if (!conn || !*conn) { fprintf(stderr, "chdb_connect failed\n"); return 2; }
    void *result = ((query_fn)need(lib, "chdb_query"))(*conn, argv[4], argv[3]);
    const char *error = result ? ((error_fn)need(lib, "chdb_result_error"))(result) : "no result";
    int rc = 0;
    if (error) { fprintf(stderr, "chDB: %s\n", error); rc = 1; }
    else fwrite(((buffer_fn)need(lib, "chdb_result_buffer"))(result), 1, ((length_fn)need(lib, "chdb_result_length"))(result), stdout);
    if (result) ((destroy_fn)need(lib, "chdb_destroy_query_result"))(result);
    ((close_fn)need(lib, "chdb_close_conn"))(conn);
    return rc;
}
