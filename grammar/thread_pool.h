// ThreadPool: a fixed set of worker threads for data-parallel loops (mask-cache precompute, batch
// mask fills).
//
// The only operation is ParallelFor(n, fn): run fn(i, worker) for every i in [0, n) and return when
// all calls have finished. Indices are handed out one at a time from an atomic counter, so uneven
// work balances itself; the calling thread takes part as worker 0, so a pool of one thread (or a
// null pool, see RunParallel) runs everything inline with no synchronisation at all. `worker` is in
// [0, num_threads()) and is unique among the calls running at the same moment: callers index
// per-worker scratch with it.
//
// Invariants: one ParallelFor at a time per pool (concurrent callers are serialised by a mutex);
// fn must not throw (sieve never does) and must not call ParallelFor on the same pool. Between
// loops workers spin briefly (a batch of mask fills arrives every decoding step, and waking a
// sleeping thread costs tens of microseconds), then sleep on a condition variable; the caller
// likewise spins briefly before sleeping until the last worker is done. The destructor joins.
#ifndef SIEVE_GRAMMAR_THREAD_POOL_H_
#define SIEVE_GRAMMAR_THREAD_POOL_H_

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace sieve {

class ThreadPool {
 public:
  // `num_threads` counts the caller: ThreadPool(2) starts one extra thread. 0 means
  // std::thread::hardware_concurrency().
  explicit ThreadPool(int num_threads);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int num_threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs fn(i, worker) for i in [0, n); returns when every call has returned.
  void ParallelFor(size_t n, const std::function<void(size_t i, int worker)>& fn);

 private:
  void WorkerLoop(int worker);
  void RunShare(int worker);

  std::vector<std::thread> workers_;
  std::mutex run_mu_;  // one loop at a time

  std::mutex mu_;
  std::condition_variable wake_;
  std::condition_variable done_;
  const std::function<void(size_t, int)>* fn_ = nullptr;
  size_t n_ = 0;
  std::atomic<size_t> next_{0};
  std::atomic<uint64_t> generation_{0};  // published after fn_ and n_
  std::atomic<int> busy_{0};             // workers still inside the current loop
  std::atomic<bool> stop_{false};
};

// ParallelFor on `pool`, or inline (worker 0) when `pool` is null.
void RunParallel(ThreadPool* pool, size_t n, const std::function<void(size_t i, int worker)>& fn);

// Runs `a` and `b` at the same time on two of `pool`'s threads (either may run on the caller's),
// or one after the other when `pool` is null or has one thread; returns when both are done.
void RunBoth(ThreadPool* pool, const std::function<void()>& a, const std::function<void()>& b);

}  // namespace sieve

#endif  // SIEVE_GRAMMAR_THREAD_POOL_H_
