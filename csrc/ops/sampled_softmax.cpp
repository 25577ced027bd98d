// Kernels for ops/sampled_softmax.h (in progress).
#include "ops/sampled_softmax.h"
