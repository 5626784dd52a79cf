// SPDX-License-Identifier: GPL-2.0
/* The KUnit module's own copy of the AVX2 kernels (see Kbuild). */
#include "../batch_avx2.c"
