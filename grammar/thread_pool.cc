// ThreadPool (see thread_pool.h): workers wait for a new generation (spinning a little, then on a
// condition variable), pull indices from a shared atomic counter until the loop is exhausted, and
// the last one to finish wakes the caller.
#include "grammar/thread_pool.h"

#include <chrono>

namespace sieve {
namespace {

// How long a waiting thread polls before it sleeps.
constexpr auto kSpin = std::chrono::microseconds(50);

inline void CpuRelax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#endif
}

}  // namespace

ThreadPool::ThreadPool(int num_threads) {
  if (num_threads <= 0) num_threads = static_cast<int>(std::thread::hardware_concurrency());
  if (num_threads <= 0) num_threads = 1;
  for (int w = 1; w < num_threads; ++w) workers_.emplace_back([this, w] { WorkerLoop(w); });
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_.store(true);
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

void ThreadPool::RunShare(int worker) {
  for (;;) {
    const size_t i = next_.fetch_add(1, std::memory_order_relaxed);
    if (i >= n_) return;
    (*fn_)(i, worker);
  }
}

void ThreadPool::WorkerLoop(int worker) {
  uint64_t seen = 0;
  for (;;) {
    const auto until = std::chrono::steady_clock::now() + kSpin;
    while (generation_.load(std::memory_order_acquire) == seen && !stop_.load() &&
           std::chrono::steady_clock::now() < until) {
      CpuRelax();
    }
    if (generation_.load(std::memory_order_acquire) == seen) {
      std::unique_lock<std::mutex> lock(mu_);
      wake_.wait(lock, [&] { return stop_.load() || generation_.load() != seen; });
    }
    if (stop_.load()) return;
    seen = generation_.load(std::memory_order_acquire);
    RunShare(worker);
    if (busy_.fetch_sub(1, std::memory_order_acq_rel) == 1) {
      std::lock_guard<std::mutex> lock(mu_);  // the caller may be about to sleep
      done_.notify_one();
    }
  }
}

void ThreadPool::ParallelFor(size_t n, const std::function<void(size_t i, int worker)>& fn) {
  if (n == 0) return;
  if (workers_.empty() || n == 1) {
    for (size_t i = 0; i < n; ++i) fn(i, 0);
    return;
  }
  std::lock_guard<std::mutex> run(run_mu_);
  fn_ = &fn;
  n_ = n;
  next_.store(0, std::memory_order_relaxed);
  busy_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
  {
    std::lock_guard<std::mutex> lock(mu_);
    generation_.fetch_add(1, std::memory_order_release);
  }
  wake_.notify_all();
  RunShare(0);
  const auto until = std::chrono::steady_clock::now() + kSpin;
  while (busy_.load(std::memory_order_acquire) != 0 && std::chrono::steady_clock::now() < until) {
    CpuRelax();
  }
  if (busy_.load(std::memory_order_acquire) != 0) {
    std::unique_lock<std::mutex> lock(mu_);
    done_.wait(lock, [&] { return busy_.load(std::memory_order_acquire) == 0; });
  }
  fn_ = nullptr;
}

void RunParallel(ThreadPool* pool, size_t n, const std::function<void(size_t i, int worker)>& fn) {
  if (pool == nullptr) {
    for (size_t i = 0; i < n; ++i) fn(i, 0);
    return;
  }
  pool->ParallelFor(n, fn);
}

void RunBoth(ThreadPool* pool, const std::function<void()>& a, const std::function<void()>& b) {
  RunParallel(pool, 2, [&](size_t i, int) { i == 0 ? a() : b(); });
}

}  // namespace sieve
