// Kernels for ops/embedding.h (in progress).
#include "ops/embedding.h"
