// The interface a word2vec trainer off the CPU threads implements (the CUDA one in
// cuda/word2vec.cu, the CPU emulation in word2vec_device.cpp): all a device build needs from the
// core, without the trainer, its threads or the CPU update kernels.
#pragma once

#include <cstdint>

#include "models/word2vec_config.h"
#include "models/word2vec_sampling.h"

namespace fastnlp {

// Where the updates run when not on the CPU threads: the CUDA trainer (cuda/word2vec.cu)
// implements this, so the core never depends on the CUDA build. The trainer's reader thread
// streams the corpus, subsamples it and hands over chunks of sentences; the device keeps its own
// copy of the matrices and writes them back on sync_to_host().
class Word2VecDevice {
 public:
  virtual ~Word2VecDevice() = default;
  // Trains sentences ids (offsets[S]) with offsets (S + 1), the learning rate going from alpha0
  // to alpha1 across them. May return before the work is done; the pointers are only read
  // during the call.
  virtual void train(const int32_t* ids, const int64_t* offsets, int64_t S, float alpha0, float alpha1) = 0;
  // Waits for the queued work and copies the matrices back to the caller's (host) arrays.
  virtual void sync_to_host() = 0;
  // Summed loss and number of predictions since construction (synchronizes).
  virtual double loss() = 0;
  virtual int64_t examples() = 0;
};

}  // namespace fastnlp
