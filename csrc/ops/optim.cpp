// Kernels for ops/optim.h (in progress).
#include "ops/optim.h"
