// SPDX-License-Identifier: GPL-2.0
/* The KUnit module's own copy of the AVX-512 kernels (see Kbuild). */
#include "../batch_avx512.c"
