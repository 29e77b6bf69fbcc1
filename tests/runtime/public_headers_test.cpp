// Every public header compiles in a plain C++ translation unit: no CUDA headers are reachable from here (this
// target has no CUDA include directories), so a CPU-only consumer can use the whole API.
#include <gtest/gtest.h>

#include "reckon/config.h"
#include "reckon/kernels/catalogue.h"
#include "reckon/kernels/dense/dense.h"
#include "reckon/kernels/embedding/embedding.h"
#include "reckon/kernels/fm/fm.h"
#include "reckon/kernels/random/random.h"
#include "reckon/kernels/skipgram/skipgram.h"
#include "reckon/kernels/topk/topk.h"
#include "reckon/runtime/context.h"
#include "reckon/runtime/device.h"
#include "reckon/runtime/dispatch.h"
#include "reckon/runtime/dtype.h"
#include "reckon/runtime/error.h"
#include "reckon/runtime/fp.h"
#include "reckon/runtime/graph.h"
#include "reckon/runtime/memory.h"
#include "reckon/runtime/philox.h"
#include "reckon/runtime/step_clock.h"
#include "reckon/runtime/tensor.h"
#include "reckon/runtime/timer.h"

#if defined(__CUDA_RUNTIME_H__) || defined(__CUDA_RUNTIME_API_H__) || defined(CUDA_VERSION)
#error "a public reckon header pulled in CUDA headers"
#endif

TEST(PublicHeaders, CompileWithoutCuda) { SUCCEED() << "reckon " << RECKON_VERSION_STRING; }
