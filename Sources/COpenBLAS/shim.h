// OpenBLAS's CBLAS header (libopenblas-dev). No `link` here on purpose: CBLAS loads the
// library at run time with dlopen, after choosing OPENBLAS_CORETYPE for this CPU.
#include <cblas.h>
