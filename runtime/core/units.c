/* Physical units: the unit table, the unit parser, the dimensional rules
 * of the operators and quantity values. No natives: the compiler folds
 * literals with these, the interpreter runs the same rules (lib_units.c).
 * See units.h for the representation. */
#include "units.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "num_complex.h"
#include "numeric.h"

enum { D_M, D_KG, D_S, D_A, D_K, D_MOL, D_CD };

typedef struct {
  const char *name;
  double scale;
  int8_t dim[UNIT_NDIMS]; /* m kg s A K mol cd */
  bool prefixable;
} UnitDef;

#define PI_180 0.017453292519943295

static const UnitDef unit_defs[] = {
  {"m", 1, {1, 0, 0, 0, 0, 0, 0}, true},
  {"g", 1e-3, {0, 1, 0, 0, 0, 0, 0}, true},
  {"s", 1, {0, 0, 1, 0, 0, 0, 0}, true},
  {"A", 1, {0, 0, 0, 1, 0, 0, 0}, true},
  {"K", 1, {0, 0, 0, 0, 1, 0, 0}, true},
  {"mol", 1, {0, 0, 0, 0, 0, 1, 0}, true},
  {"cd", 1, {0, 0, 0, 0, 0, 0, 1}, true},
  {"N", 1, {1, 1, -2, 0, 0, 0, 0}, true},
  {"J", 1, {2, 1, -2, 0, 0, 0, 0}, true},
  {"W", 1, {2, 1, -3, 0, 0, 0, 0}, true},
  {"Pa", 1, {-1, 1, -2, 0, 0, 0, 0}, true},
  {"Hz", 1, {0, 0, -1, 0, 0, 0, 0}, true},
  {"C", 1, {0, 0, 1, 1, 0, 0, 0}, true},
  {"V", 1, {2, 1, -3, -1, 0, 0, 0}, true},
  {"Ω", 1, {2, 1, -3, -2, 0, 0, 0}, true},
  {"Ω", 1, {2, 1, -3, -2, 0, 0, 0}, true}, /* U+2126 OHM SIGN */
  {"ohm", 1, {2, 1, -3, -2, 0, 0, 0}, true},
  {"S", 1, {-2, -1, 3, 2, 0, 0, 0}, true},
  {"F", 1, {-2, -1, 4, 2, 0, 0, 0}, true},
  {"T", 1, {0, 1, -2, -1, 0, 0, 0}, true},
  {"H", 1, {2, 1, -2, -2, 0, 0, 0}, true},
  {"Wb", 1, {2, 1, -2, -1, 0, 0, 0}, true},
  {"lm", 1, {0, 0, 0, 0, 0, 0, 1}, true},
  {"lx", 1, {-2, 0, 0, 0, 0, 0, 1}, true},
  {"Bq", 1, {0, 0, -1, 0, 0, 0, 0}, true},
  {"Gy", 1, {2, 0, -2, 0, 0, 0, 0}, true},
  {"Sv", 1, {2, 0, -2, 0, 0, 0, 0}, true},
  {"L", 1e-3, {3, 0, 0, 0, 0, 0, 0}, true},
  {"l", 1e-3, {3, 0, 0, 0, 0, 0, 0}, false},
  {"eV", 1.602176634e-19, {2, 1, -2, 0, 0, 0, 0}, true},
  {"min", 60, {0, 0, 1, 0, 0, 0, 0}, false},
  {"h", 3600, {0, 0, 1, 0, 0, 0, 0}, false},
  {"day", 86400, {0, 0, 1, 0, 0, 0, 0}, false},
  {"bar", 1e5, {-1, 1, -2, 0, 0, 0, 0}, true},
  {"atm", 101325, {-1, 1, -2, 0, 0, 0, 0}, false},
  {"Å", 1e-10, {1, 0, 0, 0, 0, 0, 0}, false},
  {"Å", 1e-10, {1, 0, 0, 0, 0, 0, 0}, false}, /* U+212B ANGSTROM SIGN */
  {"rad", 1, {0}, false},
  {"sr", 1, {0}, false},
  {"deg", PI_180, {0}, false},
  {"°", PI_180, {0}, false},
};

static const struct {
  const char *name;
  double scale;
} prefixes[] = {
  {"da", 1e1}, {"Y", 1e24}, {"Z", 1e21}, {"E", 1e18}, {"P", 1e15}, {"T", 1e12}, {"G", 1e9},
  {"M", 1e6},  {"k", 1e3},  {"h", 1e2},  {"d", 1e-1}, {"c", 1e-2}, {"m", 1e-3}, {"µ", 1e-6},
  {"μ", 1e-6}, {"u", 1e-6}, {"n", 1e-9}, {"p", 1e-12}, {"f", 1e-15}, {"a", 1e-18}, {"z", 1e-21},
  {"y", 1e-24},
};

/* Derived units results are shown in, when their dimensions come out of
 * a product. Gy, Sv, Bq, lm and lx are left out: m²/s² is not a dose. */
static const char *const shown_derived[] = {"N", "J", "W", "Pa", "C", "V", "Ω", "F", "T", "H", "Wb", "Hz"};

static const char *const dim_symbols[UNIT_NDIMS] = {"m", "kg", "s", "A", "K", "mol", "cd"};
/* kg⋅m/s², not m⋅kg/s² */
static const int dim_order[UNIT_NDIMS] = {D_KG, D_M, D_S, D_A, D_K, D_MOL, D_CD};

static const UnitDef *find_unit(const char *s, size_t n) {
  for (size_t i = 0; i < sizeof unit_defs / sizeof unit_defs[0]; i++)
    if (strlen(unit_defs[i].name) == n && !memcmp(unit_defs[i].name, s, n)) return &unit_defs[i];
  return NULL;
}

/* One atom: an exact unit name (min, mm is not one), else prefix + unit. */
static bool atom_unit(const char *s, size_t n, double *scale, const int8_t **dim) {
  const UnitDef *u = find_unit(s, n);
  if (u) {
    *scale = u->scale;
    *dim = u->dim;
    return true;
  }
  for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
    size_t pn = strlen(prefixes[i].name);
    if (pn >= n || memcmp(prefixes[i].name, s, pn)) continue;
    u = find_unit(s + pn, n - pn);
    if (u && u->prefixable) {
      *scale = prefixes[i].scale * u->scale;
      *dim = u->dim;
      return true;
    }
  }
  return false;
}

static const char *const superscripts[10] = {"⁰", "¹", "²", "³", "⁴", "⁵", "⁶", "⁷", "⁸", "⁹"};

static int superscript_digit(const char *s, size_t n, size_t *used) {
  for (int d = 0; d < 10; d++) {
    size_t k = strlen(superscripts[d]);
    if (k <= n && !memcmp(s, superscripts[d], k)) {
      *used = k;
      return d;
    }
  }
  return -1;
}

/* Length of the operator at s (* / ⋅ ·), 0 if none. */
static size_t op_len(const char *s, size_t n, bool *divide) {
  *divide = false;
  if (n >= 1 && s[0] == '*') return 1;
  if (n >= 1 && s[0] == '/') return *divide = true, 1;
  if (n >= 3 && !memcmp(s, "⋅", 3)) return 3;
  if (n >= 2 && !memcmp(s, "·", 2)) return 2;
  return 0;
}

static bool add_dims(int8_t dim[UNIT_NDIMS], const int8_t *d, long k) {
  for (int i = 0; i < UNIT_NDIMS; i++) {
    long e = dim[i] + (long)d[i] * k;
    if (e > 127 || e < -127) return false;
    dim[i] = (int8_t)e;
  }
  return true;
}

bool units_parse(const char *text, size_t len, double *scale, int8_t dim[UNIT_NDIMS], char *err,
                 size_t errlen) {
  memset(dim, 0, UNIT_NDIMS);
  *scale = 1;
  size_t i = 0;
  bool divide = false;
  if (len == 0) {
    snprintf(err, errlen, "empty unit");
    return false;
  }
  while (i < len) {
    size_t start = i;
    bool dummy;
    while (i < len && text[i] != '^' && !op_len(text + i, len - i, &dummy)) {
      size_t used;
      if (superscript_digit(text + i, len - i, &used) >= 0 ||
          (len - i >= 3 && !memcmp(text + i, "⁻", 3)))
        break;
      i++;
    }
    size_t an = i - start;
    double s = 1;
    const int8_t *d = NULL;
    static const int8_t none[UNIT_NDIMS] = {0};
    if (an == 1 && text[start] == '1') {
      d = none;
    } else if (an == 0 || !atom_unit(text + start, an, &s, &d)) {
      snprintf(err, errlen, "unknown unit `%.*s`", (int)an, text + start);
      return false;
    }
    long power = 1;
    if (i < len && text[i] == '^') {
      i++;
      bool neg = i < len && text[i] == '-';
      if (neg) i++;
      if (i >= len || text[i] < '0' || text[i] > '9') {
        snprintf(err, errlen, "expected a power after `^` in `%.*s`", (int)len, text);
        return false;
      }
      power = 0;
      while (i < len && text[i] >= '0' && text[i] <= '9' && power < 1000) power = power * 10 + (text[i++] - '0');
      if (neg) power = -power;
    } else {
      bool neg = len - i >= 3 && !memcmp(text + i, "⁻", 3);
      if (neg) i += 3;
      size_t used;
      int dg;
      if (i < len && (dg = superscript_digit(text + i, len - i, &used)) >= 0) {
        power = 0;
        while (i < len && (dg = superscript_digit(text + i, len - i, &used)) >= 0 && power < 1000) {
          power = power * 10 + dg;
          i += used;
        }
      }
      if (neg) power = -power;
    }
    if (divide) power = -power;
    if (!add_dims(dim, d, power)) {
      snprintf(err, errlen, "unit exponent out of range in `%.*s`", (int)len, text);
      return false;
    }
    *scale *= pow(s, (double)power);
    if (i < len) {
      bool dv;
      size_t k = op_len(text + i, len - i, &dv);
      if (!k || i + k >= len) {
        snprintf(err, errlen, "invalid unit `%.*s`", (int)len, text);
        return false;
      }
      if (dv) divide = true;
      i += k;
    }
  }
  return true;
}

bool units_dimensionless(const int8_t dim[UNIT_NDIMS]) {
  for (int i = 0; i < UNIT_NDIMS; i++)
    if (dim[i]) return false;
  return true;
}

static void add_power(char *buf, size_t n, size_t *at, int e) {
  if (e == 1) return;
  char digits[8];
  int k = snprintf(digits, sizeof digits, "%d", e);
  for (int i = 0; i < k; i++) {
    const char *s = digits[i] == '-' ? "⁻" : superscripts[digits[i] - '0'];
    *at += (size_t)snprintf(buf + *at, *at < n ? n - *at : 0, "%s", s);
  }
}

void units_dims_text(const int8_t dim[UNIT_NDIMS], char *buf, size_t n) {
  for (size_t i = 0; i < sizeof shown_derived / sizeof shown_derived[0]; i++) {
    const UnitDef *u = find_unit(shown_derived[i], strlen(shown_derived[i]));
    if (!memcmp(u->dim, dim, UNIT_NDIMS)) {
      snprintf(buf, n, "%s", u->name);
      return;
    }
  }
  size_t at = 0;
  buf[0] = 0;
  bool any = false;
  for (int pass = 0; pass < 2; pass++) {
    bool first = true;
    for (int j = 0; j < UNIT_NDIMS; j++) {
      int d = dim_order[j], e = pass ? -dim[d] : dim[d];
      if (e <= 0) continue;
      if (first && pass) at += (size_t)snprintf(buf + at, at < n ? n - at : 0, "%s", any ? "/" : "1/");
      else if (!first) at += (size_t)snprintf(buf + at, at < n ? n - at : 0, "⋅");
      at += (size_t)snprintf(buf + at, at < n ? n - at : 0, "%s", dim_symbols[d]);
      add_power(buf, n, &at, e);
      first = false;
      any = true;
    }
  }
  if (at >= n && n) buf[n - 1] = 0;
}

static bool simple_atom(const char *u) {
  for (const char *p = u; *p; p++)
    if (*p == '*' || *p == '/' || *p == '^' || (unsigned char)*p == 0xE2 || (unsigned char)*p == 0xC2)
      return strcmp(u, "Ω") == 0 || strcmp(u, "Å") == 0;
  return *u != 0;
}

void units_canonical(Qty *q) {
  q->scale = 1;
  units_dims_text(q->dim, q->unit, sizeof q->unit);
}

bool units_literal(double value, const char *unit, Qty *out, char *err, size_t errlen) {
  memset(out, 0, sizeof *out);
  if (!units_parse(unit, strlen(unit), &out->scale, out->dim, err, errlen)) return false;
  out->value = value * out->scale;
  if (strlen(unit) < UNIT_TEXT_MAX) snprintf(out->unit, sizeof out->unit, "%s", unit);
  else units_canonical(out);
  return true;
}

static bool same_dims(const Qty *a, const Qty *b) {
  return !memcmp(a->dim, b->dim, UNIT_NDIMS);
}

static bool mismatch(ArithOp op, const Qty *a, const Qty *b, char *err, size_t n) {
  switch (op) {
  case AOP_ADD: snprintf(err, n, "cannot add %s to %s", a->unit, b->unit); break;
  case AOP_SUB: snprintf(err, n, "cannot subtract %s from %s", b->unit, a->unit); break;
  case AOP_MOD: snprintf(err, n, "cannot take the remainder of %s by %s", a->unit, b->unit); break;
  default: snprintf(err, n, "cannot compare %s with %s", a->unit, b->unit); break;
  }
  return false;
}

/* Integer exponent of `**`: an int, or a float with an integral value. */
static bool int_power(const Qty *b, long *out) {
  if (!b->number || b->value != floor(b->value) || fabs(b->value) > 127) return false;
  *out = (long)b->value;
  return true;
}

bool units_apply(ArithOp op, const Qty *a, const Qty *b, Qty *out, char *err, size_t errlen) {
  *out = a->number ? *b : *a;
  out->number = false;
  out->cplx = a->cplx || b->cplx;
  switch (op) {
  case AOP_ADD:
  case AOP_SUB:
  case AOP_MOD:
    if (a->number || b->number || !same_dims(a, b)) return mismatch(op, a, b, err, errlen);
    if (op == AOP_MOD && out->cplx) {
      snprintf(err, errlen, "cannot take the remainder of a complex quantity");
      return false;
    }
    out->value = op == AOP_ADD ? a->value + b->value : op == AOP_SUB ? a->value - b->value : num_float_mod(a->value, b->value);
    out->im = op == AOP_ADD ? a->im + b->im : op == AOP_SUB ? a->im - b->im : 0;
    return true;
  case AOP_LT:
  case AOP_LE:
  case AOP_GT:
  case AOP_GE:
  case AOP_APPROX:
  case AOP_EQ:
  case AOP_NE: {
    if (a->number || b->number || !same_dims(a, b)) {
      if (op == AOP_EQ || op == AOP_NE) {
        out->value = op == AOP_NE;
        return true;
      }
      return mismatch(op, a, b, err, errlen);
    }
    if (out->cplx) {
      if (op != AOP_EQ && op != AOP_NE && op != AOP_APPROX) {
        snprintf(err, errlen, "cannot order complex quantities (%s)", a->unit);
        return false;
      }
      bool same = op == AOP_APPROX ? num_approx(a->value, b->value) && num_approx(a->im, b->im)
                                   : a->value == b->value && a->im == b->im;
      out->value = same != (op == AOP_NE);
      out->im = 0;
      return true;
    }
    double x = a->value, y = b->value;
    bool r = op == AOP_LT ? x < y : op == AOP_LE ? x <= y : op == AOP_GT ? x > y : op == AOP_GE ? x >= y
             : op == AOP_EQ ? x == y : op == AOP_NE ? x != y : num_approx(x, y);
    out->value = r;
    return true;
  }
  case AOP_MUL:
  case AOP_DOT:
  case AOP_DIV: {
    bool div = op == AOP_DIV;
    if (out->cplx) { /* as complex numbers do */
      double complex x = CMPLX(a->value, a->im), y = CMPLX(b->value, b->im);
      double complex r = div ? x / y : x * y;
      out->value = creal(r);
      out->im = cimag(r);
    } else {
      out->value = div ? a->value / b->value : a->value * b->value;
    }
    if (b->number) return true; /* q * 2, q / 2: the unit stays */
    if (a->number) {
      if (!div) return true;    /* 2 * q */
      memset(out->dim, 0, UNIT_NDIMS);
      add_dims(out->dim, b->dim, -1);
      units_canonical(out);
      return true;
    }
    memcpy(out->dim, a->dim, UNIT_NDIMS);
    if (!add_dims(out->dim, b->dim, div ? -1 : 1)) {
      snprintf(err, errlen, "unit exponent out of range in `%s`", div ? "/" : "*");
      return false;
    }
    if (!div && !strcmp(a->unit, b->unit) && simple_atom(a->unit) && strlen(a->unit) + 3 < UNIT_TEXT_MAX) {
      out->scale = a->scale * a->scale;
      snprintf(out->unit, sizeof out->unit, "%s²", a->unit);
      return true;
    }
    units_canonical(out);
    return true;
  }
  case AOP_POW: {
    long k;
    if (a->number) {
      snprintf(err, errlen, "cannot raise %s to a power in %s", a->unit, b->unit);
      return false;
    }
    if (!int_power(b, &k)) {
      snprintf(err, errlen, "the power of a quantity (%s) must be an integer", a->unit);
      return false;
    }
    memset(out->dim, 0, UNIT_NDIMS);
    if (!add_dims(out->dim, a->dim, k)) {
      snprintf(err, errlen, "unit exponent out of range in `**`");
      return false;
    }
    if (a->cplx) {
      double complex r = num_cpow_int(CMPLX(a->value, a->im), k);
      out->value = creal(r);
      out->im = cimag(r);
    } else {
      out->value = pow(a->value, (double)k);
    }
    if (k >= 2 && k <= 9 && simple_atom(a->unit)) {
      out->scale = pow(a->scale, (double)k);
      snprintf(out->unit, sizeof out->unit, "%s%s", a->unit, superscripts[k]);
    } else if (k != 1) {
      units_canonical(out);
    }
    return true;
  }
  default:
    snprintf(err, errlen, "cannot apply `%s` to %s and %s", arith_op_name(op), a->unit, b->unit);
    return false;
  }
}

/* Unit type names are built, not listed: words naming SI units joined
 * into one CamelCase name, `Squared`/`Cubed` after a unit (or `Square`/
 * `Cubic` before it) for its power, and one `Per` after which every unit
 * divides: NewtonMeterSquaredPerKilogramSquared is N⋅m²/kg². The name is
 * turned into unit text and read by units_parse. */
static const struct {
  const char *word, *symbol;
} unit_words[] = {
  {"Meter", "m"},      {"Metre", "m"},        {"Second", "s"},     {"Kilogram", "kg"},  {"Gram", "g"},
  {"Ampere", "A"},     {"Kelvin", "K"},       {"Mole", "mol"},     {"Candela", "cd"},   {"Newton", "N"},
  {"Joule", "J"},      {"Watt", "W"},         {"Pascal", "Pa"},    {"Hertz", "Hz"},     {"Coulomb", "C"},
  {"Volt", "V"},       {"Ohm", "Ω"},          {"Farad", "F"},      {"Tesla", "T"},      {"Henry", "H"},
  {"Weber", "Wb"},     {"Siemens", "S"},      {"Radian", "rad"},   {"Steradian", "sr"}, {"Lumen", "lm"},
  {"Lux", "lx"},       {"Becquerel", "Bq"},   {"Gray", "Gy"},      {"Sievert", "Sv"},   {"Liter", "L"},
  {"Litre", "L"},      {"Kilometer", "km"},   {"Kilometre", "km"}, {"Minute", "min"},   {"Hour", "h"},
  {"Day", "day"},      {"Electronvolt", "eV"}, {"ElectronVolt", "eV"}, {"Degree", "deg"},
};

/* Quantity names: the dimension of what they measure. Angle and Radian
 * are dimensionless (SI), so they accept plain numbers. */
static const struct {
  const char *name, *unit;
} quantity_types[] = {
  {"Length", "m"},          {"Mass", "kg"},           {"Time", "s"},          {"Current", "A"},
  {"Temperature", "K"},     {"Amount", "mol"},        {"LuminousIntensity", "cd"},
  {"Area", "m²"},           {"Volume", "m³"},         {"Velocity", "m/s"},    {"Speed", "m/s"},
  {"Acceleration", "m/s²"}, {"Force", "N"},           {"Energy", "J"},        {"Work", "J"},
  {"Power", "W"},           {"Pressure", "Pa"},       {"Frequency", "Hz"},    {"Charge", "C"},
  {"Voltage", "V"},         {"Resistance", "Ω"},      {"Capacitance", "F"},   {"Inductance", "H"},
  {"MagneticField", "T"},   {"MagneticFlux", "Wb"},   {"ElectricField", "N/C"}, {"Momentum", "kg⋅m/s"},
  {"Torque", "N⋅m"},        {"Density", "kg/m³"},     {"Action", "J⋅s"},      {"AngularVelocity", "rad/s"},
  {"Angle", "rad"},         {"Dimensionless", "rad"}, /* rad: no dimensions */
};

static bool name_word(const char **p, const char *word) {
  size_t n = strlen(word);
  if (strncmp(*p, word, n)) return false;
  *p += n;
  return true;
}

/* Unit text of a composed name, or false when the name is not one:
 * MeterPerSecondSquared -> "m/s²", SquareMeter -> "m²". */
static bool compose_type_name(const char *name, char *out, size_t n) {
  const char *p = name;
  size_t len = 0;
  bool per = false, need_unit = true;
  out[0] = 0;
  while (*p) {
    if (!need_unit && !per && name_word(&p, "Per")) {
      per = true;
      need_unit = true;
      if (len + 2 > n) return false;
      out[len++] = '/';
      out[len] = 0;
      continue;
    }
    const char *power = "";
    if (name_word(&p, "Square")) power = "²";
    else if (name_word(&p, "Cubic")) power = "³";
    const char *symbol = NULL;
    for (size_t i = 0; i < sizeof unit_words / sizeof unit_words[0] && !symbol; i++)
      if (name_word(&p, unit_words[i].word)) symbol = unit_words[i].symbol;
    if (!symbol) return false;
    if (!*power) {
      if (name_word(&p, "Squared")) power = "²";
      else if (name_word(&p, "Cubed")) power = "³";
    }
    int k = snprintf(out + len, n - len, "%s%s%s", need_unit ? "" : "⋅", symbol, power);
    if (k < 0 || (size_t)k >= n - len) return false;
    len += (size_t)k;
    need_unit = false;
  }
  return !need_unit;
}

bool units_type_dims(const char *name, int8_t dim[UNIT_NDIMS]) {
  char text[UNIT_TEXT_MAX * 2];
  const char *unit = NULL;
  for (size_t i = 0; i < sizeof quantity_types / sizeof quantity_types[0] && !unit; i++)
    if (!strcmp(quantity_types[i].name, name)) unit = quantity_types[i].unit;
  if (!unit && compose_type_name(name, text, sizeof text)) unit = text;
  if (!unit) return false;
  double s;
  char err[8];
  return units_parse(unit, strlen(unit), &s, dim, err, sizeof err);
}

/* ---- quantity values ---- */

ObjQuantity *quantity_new(VM *vm, const Qty *q) {
  ObjQuantity *o = (ObjQuantity *)obj_alloc(vm, sizeof(ObjQuantity), OBJ_QUANTITY);
  o->value = q->value;
  o->im = q->im;
  o->cplx = q->cplx;
  o->scale = q->scale;
  memcpy(o->dim, q->dim, UNIT_NDIMS);
  memcpy(o->unit, q->unit, UNIT_TEXT_MAX);
  o->unit[UNIT_TEXT_MAX - 1] = 0;
  return o;
}

Value units_value(VM *vm, const Qty *q) {
  if (units_dimensionless(q->dim))
    return q->cplx ? OBJ_VAL(complex_new(vm, q->value, q->im)) : FLOAT_VAL(q->value);
  return OBJ_VAL(quantity_new(vm, q));
}

bool units_from_value(Value v, Qty *q) {
  memset(q, 0, sizeof *q);
  if (IS_QUANTITY(v)) {
    ObjQuantity *o = AS_QUANTITY(v);
    q->value = o->value;
    q->im = o->im;
    q->cplx = o->cplx;
    q->scale = o->scale;
    memcpy(q->dim, o->dim, UNIT_NDIMS);
    memcpy(q->unit, o->unit, UNIT_TEXT_MAX);
    return true;
  }
  if (IS_OBJ_TYPE(v, OBJ_COMPLEX)) {
    q->value = ((ObjComplex *)v.as.o)->re;
    q->im = ((ObjComplex *)v.as.o)->im;
    q->cplx = true;
    q->scale = 1;
    q->number = true;
    snprintf(q->unit, sizeof q->unit, "complex");
    return true;
  }
  if (!IS_NUM(v)) return false;
  q->value = AS_NUM(v);
  q->scale = 1;
  q->number = true;
  snprintf(q->unit, sizeof q->unit, "%s", value_type_name(v));
  return true;
}

