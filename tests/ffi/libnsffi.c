/* A small C library the FFI tests call (built as libnsffi.so). */
#include <stdbool.h>
#include <stdint.h>

int8_t ns_i8(int8_t x) { return (int8_t)(x - 1); }
int16_t ns_i16(int16_t x) { return (int16_t)(x - 1); }
int32_t ns_i32(int32_t x) { return x - 1; }
int64_t ns_i64(int64_t x) { return x - 1; }
uint8_t ns_u8(uint8_t x) { return (uint8_t)(x + 1); }
uint16_t ns_u16(uint16_t x) { return (uint16_t)(x + 1); }
uint32_t ns_u32(uint32_t x) { return x + 1; }
uint64_t ns_u64(uint64_t x) { return x + 1; }
uint64_t ns_u64_max(void) { return UINT64_MAX; }
bool ns_not(bool b) { return !b; }
float ns_half(float x) { return x / 2; }

/* y[i] = a * i for i < n: fills a tensor in place. */
void ns_fill(float *y, int64_t n, float a) {
  for (int64_t i = 0; i < n; i++) y[i] = a * (float)i;
}

double ns_dot(const double *a, const double *b, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; i++) s += a[i] * b[i];
  return s;
}

/* Calls f on 0..n-1 and sums the results. */
int64_t ns_sum_map(int64_t n, int64_t (*f)(int64_t)) {
  int64_t s = 0;
  for (int64_t i = 0; i < n; i++) s += f(i);
  return s;
}

double ns_apply_f(double (*f)(double, bool), double x) { return f(x, true); }

const char *ns_greeting(void) { return "hello from C"; }
const char *ns_null(void) { return 0; }

int64_t ns_sum_i64(const int64_t *x, int64_t n) {
  int64_t s = 0;
  for (int64_t i = 0; i < n; i++) s += x[i];
  return s;
}
