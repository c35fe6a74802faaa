/* The standard library's NeuralScript sources, embedded at build time by
 * tools/embed.cmake (see CMakeLists.txt): one entry per .ns file under stdlib/.
 * name is the module path without ".ns", directories joined by "::"
 * ("prelude", "nn::layers"); text is NUL-terminated, len excludes the NUL.
 * The table ends with an all-zero entry after ns_stdlib_count entries. */
#ifndef NS_STDLIB_H
#define NS_STDLIB_H

typedef struct {
  const char *name;
  const char *text;
  unsigned len;
} NsEmbedded;

extern const NsEmbedded ns_stdlib[];
extern const int ns_stdlib_count;

#endif
