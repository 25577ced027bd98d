// Kernels for ops/softmax.h (in progress).
#include "ops/softmax.h"
