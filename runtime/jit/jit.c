/* libnsjit.so: the tensor engine's JIT (interface: runtime/tensor/
 * jit_kernel.h). An ORC LLJIT for the host CPU; each compile() checks its
 * kernels' descriptions, builds one module of n functions
 * (jit_codegen.c), verifies it in builds with assertions, optimises it
 * with the O2 pipeline, optionally writes its IR and assembly, adds it to
 * the JIT under its own resource tracker and looks the functions up
 * (which generates the machine code). A compile that fails at any step
 * removes what it added: the JIT stays usable and nothing is kept.
 *
 * One thread at a time per JIT: the target machine used for the passes
 * and the dumps is shared by the compiles. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <llvm-c/Analysis.h>
#include <llvm-c/Core.h>
#include <llvm-c/Error.h>
#include <llvm-c/LLJIT.h>
#include <llvm-c/Orc.h>
#include <llvm-c/Target.h>
#include <llvm-c/TargetMachine.h>
#include <llvm-c/Transforms/PassBuilder.h>

#include "jit_int.h"

typedef struct {
  LLVMOrcLLJITRef lljit;
  LLVMTargetMachineRef tm; /* configured as the JIT's own: the passes and the .s dumps */
  char *host;              /* "cpu +feature,..." */
  char *dump_dir;          /* NULL: no dumps */
  unsigned vbytes;         /* bytes per vector: 64 with AVX-512, else 32 */
} Jit;

/* An LLVM error as the message "what: ..."; consumes e. */
static bool failed(LLVMErrorRef e, const char *what, char *err, size_t errlen) {
  if (!e) return false;
  char *msg = LLVMGetErrorMessage(e);
  snprintf(err, errlen, "%s: %s", what, msg);
  LLVMDisposeErrorMessage(msg);
  return true;
}

static char *dup_str(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

/* "+name" is one of the comma-separated host features. */
static bool has_feature(const char *features, const char *name) {
  size_t n = strlen(name);
  for (const char *p = features; (p = strstr(p, name)) != NULL; p += n)
    if (p > features && p[-1] == '+' && (p[n] == ',' || p[n] == '\0')) return true;
  return false;
}

static void jit_destroy(void *p) {
  Jit *j = p;
  if (!j) return;
  if (j->lljit) LLVMConsumeError(LLVMOrcDisposeLLJIT(j->lljit));
  if (j->tm) LLVMDisposeTargetMachine(j->tm);
  free(j->host);
  free(j->dump_dir);
  free(j);
}

static void *jit_create(const char *dump_dir, char *err, size_t errlen) {
  if (LLVMInitializeNativeTarget() || LLVMInitializeNativeAsmPrinter()) {
    snprintf(err, errlen, "LLVM has no code generator for this machine");
    return NULL;
  }
  Jit *j = calloc(1, sizeof *j);
  if (!j) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  char *triple = LLVMGetDefaultTargetTriple(), *cpu = LLVMGetHostCPUName(), *features = LLVMGetHostCPUFeatures();
  char *msg = NULL;
  LLVMTargetRef target;
  LLVMTargetMachineRef jit_tm = NULL;
  bool ok = false;
  if (LLVMGetTargetFromTriple(triple, &target, &msg)) {
    snprintf(err, errlen, "no LLVM target for %s: %s", triple, msg);
    goto done;
  }
  /* two target machines of one configuration: the JIT takes one */
  j->tm = LLVMCreateTargetMachine(target, triple, cpu, features, LLVMCodeGenLevelNone, LLVMRelocDefault,
                                  LLVMCodeModelJITDefault);
  jit_tm = LLVMCreateTargetMachine(target, triple, cpu, features, LLVMCodeGenLevelNone, LLVMRelocDefault,
                                   LLVMCodeModelJITDefault);
  size_t n = strlen(cpu) + strlen(features) + 2;
  j->host = malloc(n);
  if (dump_dir) j->dump_dir = dup_str(dump_dir);
  if (!j->tm || !jit_tm || !j->host || (dump_dir && !j->dump_dir)) {
    snprintf(err, errlen, "cannot set up a target machine for %s", cpu);
    goto done;
  }
  snprintf(j->host, n, "%s %s", cpu, features);
  j->vbytes = has_feature(features, "avx512f") ? 64 : 32;
  LLVMOrcLLJITBuilderRef builder = LLVMOrcCreateLLJITBuilder();
  LLVMOrcLLJITBuilderSetJITTargetMachineBuilder(builder, LLVMOrcJITTargetMachineBuilderCreateFromTargetMachine(jit_tm));
  jit_tm = NULL;
  if (failed(LLVMOrcCreateLLJIT(&j->lljit, builder), "cannot create the JIT", err, errlen)) {
    j->lljit = NULL;
    goto done;
  }
  /* libm (powf, sin, ...) and the rest of the process's symbols */
  LLVMOrcDefinitionGeneratorRef gen;
  if (failed(LLVMOrcCreateDynamicLibrarySearchGeneratorForProcess(&gen, LLVMOrcLLJITGetGlobalPrefix(j->lljit), NULL, NULL),
             "cannot search the process's symbols", err, errlen))
    goto done;
  LLVMOrcJITDylibAddGenerator(LLVMOrcLLJITGetMainJITDylib(j->lljit), gen);
  ok = true;
done:
  if (jit_tm) LLVMDisposeTargetMachine(jit_tm);
  LLVMDisposeMessage(msg);
  LLVMDisposeMessage(triple);
  LLVMDisposeMessage(cpu);
  LLVMDisposeMessage(features);
  if (!ok) {
    jit_destroy(j);
    return NULL;
  }
  return j;
}

static const char *jit_host(void *p) { return ((Jit *)p)->host; }

/* DIR/<name>.ll (the module as it is) and DIR/<name>.s (a copy of it
 * through the code generator: emitting changes the module it runs on). */
static bool dump(Jit *j, LLVMModuleRef mod, const char *name, char *err, size_t errlen) {
  size_t n = strlen(j->dump_dir) + strlen(name) + 8;
  char *path = malloc(n), *msg = NULL;
  bool ok = false;
  LLVMModuleRef copy = NULL;
  LLVMMemoryBufferRef buf = NULL;
  if (!path) {
    snprintf(err, errlen, "out of memory");
    return false;
  }
  snprintf(path, n, "%s/%s.ll", j->dump_dir, name);
  if (LLVMPrintModuleToFile(mod, path, &msg)) {
    snprintf(err, errlen, "cannot write %s: %s", path, msg);
    goto done;
  }
  LLVMDisposeMessage(msg);
  msg = NULL;
  copy = LLVMCloneModule(mod);
  if (LLVMTargetMachineEmitToMemoryBuffer(j->tm, copy, LLVMAssemblyFile, &msg, &buf)) {
    snprintf(err, errlen, "cannot generate assembly for %s: %s", name, msg);
    goto done;
  }
  snprintf(path, n, "%s/%s.s", j->dump_dir, name);
  FILE *f = fopen(path, "w");
  size_t size = LLVMGetBufferSize(buf);
  if (!f || fwrite(LLVMGetBufferStart(buf), 1, size, f) != size) {
    snprintf(err, errlen, "cannot write %s", path);
    if (f) fclose(f);
    goto done;
  }
  if (fclose(f) != 0) {
    snprintf(err, errlen, "cannot write %s", path);
    goto done;
  }
  ok = true;
done:
  if (buf) LLVMDisposeMemoryBuffer(buf);
  if (copy) LLVMDisposeModule(copy);
  LLVMDisposeMessage(msg);
  free(path);
  return ok;
}

/* The module's IR: the n kernels, verified (builds with assertions) and
 * optimised. false with a message. */
static bool build(Jit *j, LLVMModuleRef mod, const char *name, const KDesc *const *kernels, const JitShape *shapes,
                  int n, char **fnames, char *err, size_t errlen) {
  char *triple = LLVMGetTargetMachineTriple(j->tm);
  LLVMTargetDataRef layout = LLVMCreateTargetDataLayout(j->tm);
  LLVMSetTarget(mod, triple);
  LLVMSetModuleDataLayout(mod, layout);
  LLVMDisposeTargetData(layout);
  LLVMDisposeMessage(triple);
  for (int i = 0; i < n; i++) {
    /* one vector width per kernel: a vector register of its widest dtype */
    unsigned lanes = j->vbytes / (shapes[i].wide ? 8 : 4);
    if (!jit_emit_kernel(mod, fnames[i], kernels[i], &shapes[i], lanes)) {
      snprintf(err, errlen, "out of memory");
      return false;
    }
  }
#ifndef NDEBUG
  char *msg = NULL;
  if (LLVMVerifyModule(mod, LLVMReturnStatusAction, &msg)) {
    snprintf(err, errlen, "module %s is not valid IR: %s", name, msg);
    LLVMDisposeMessage(msg);
    return false;
  }
  LLVMDisposeMessage(msg);
#endif
  /* The loops are vectorized by construction, so the pipeline only cleans
   * up (combines, hoists the splats and constants out of the loops, merges
   * blocks): a graph is compiled while the program waits, and these few
   * passes with the fast instruction selector (LLVMCodeGenLevelNone in
   * jit_create) compile a kernel in about 1 ms where default<O2> and full
   * code generation took 5 ms, for code within 1.5x as fast. */
  LLVMPassBuilderOptionsRef opts = LLVMCreatePassBuilderOptions();
  LLVMErrorRef e =
      LLVMRunPasses(mod, "function(instcombine<no-verify-fixpoint>,simplifycfg,loop-mssa(licm),early-cse)", j->tm, opts);
  LLVMDisposePassBuilderOptions(opts);
  if (failed(e, "optimising", err, errlen)) return false;
  return !j->dump_dir || dump(j, mod, name, err, errlen);
}

static bool jit_compile(void *p, const char *name, const KDesc *const *kernels, int n, NsKernelFn *fns, char *err,
                        size_t errlen) {
  Jit *j = p;
  if (n < 1) {
    snprintf(err, errlen, "module %s: %d kernels", name, n);
    return false;
  }
  JitShape *shapes = malloc((size_t)n * sizeof *shapes);
  char **fnames = calloc((size_t)n, sizeof *fnames);
  size_t fn_len = strlen(name) + 16;
  bool ok = false;
  LLVMOrcThreadSafeContextRef tsc = NULL;
  LLVMModuleRef mod = NULL;
  LLVMOrcResourceTrackerRef rt = NULL;
  if (!shapes || !fnames) {
    snprintf(err, errlen, "out of memory");
    goto done;
  }
  /* every description is checked before any IR exists */
  for (int i = 0; i < n; i++) {
    char why[200];
    if (!kernels[i] || !jit_check(kernels[i], &shapes[i], why, sizeof why)) {
      snprintf(err, errlen, "kernel %d of %s: %s", i, name, kernels[i] ? why : "no description");
      goto done;
    }
    if (!(fnames[i] = malloc(fn_len))) {
      snprintf(err, errlen, "out of memory");
      goto done;
    }
    snprintf(fnames[i], fn_len, "%s.%d", name, i);
  }
  tsc = LLVMOrcCreateNewThreadSafeContext();
  mod = LLVMModuleCreateWithNameInContext(name, LLVMOrcThreadSafeContextGetContext(tsc));
  if (!build(j, mod, name, kernels, shapes, n, fnames, err, errlen)) goto done;
  /* the JIT owns the module from here, its tracker what it generates */
  LLVMOrcThreadSafeModuleRef tsm = LLVMOrcCreateNewThreadSafeModule(mod, tsc);
  mod = NULL;
  rt = LLVMOrcJITDylibCreateResourceTracker(LLVMOrcLLJITGetMainJITDylib(j->lljit));
  if (failed(LLVMOrcLLJITAddLLVMIRModuleWithRT(j->lljit, rt, tsm), "adding the module", err, errlen)) goto done;
  for (int i = 0; i < n; i++) {
    LLVMOrcExecutorAddress addr = 0;
    if (failed(LLVMOrcLLJITLookup(j->lljit, &addr, fnames[i]), "generating code", err, errlen)) goto done;
    fns[i] = (NsKernelFn)(uintptr_t)addr;
  }
  ok = true;
done:
  if (rt) {
    if (!ok) LLVMConsumeError(LLVMOrcResourceTrackerRemove(rt));
    LLVMOrcReleaseResourceTracker(rt);
  }
  for (int i = 0; !ok && i < n; i++) fns[i] = NULL; /* none of them exists */
  if (mod) LLVMDisposeModule(mod);
  if (tsc) LLVMOrcDisposeThreadSafeContext(tsc);
  for (int i = 0; fnames && i < n; i++) free(fnames[i]);
  free(fnames);
  free(shapes);
  return ok;
}

__attribute__((visibility("default"))) const NsJitApi *ns_jit_api(void) {
  static const NsJitApi api = {NS_JIT_ABI, jit_create, jit_compile, jit_host, jit_destroy};
  return &api;
}
