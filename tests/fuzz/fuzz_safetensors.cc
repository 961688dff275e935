// Fuzz target: a safetensors file image -> SafetensorsFile::ParseHeader (decoder/safetensors.h).
//
// The reader promises that nothing is exposed before the header is validated against the file
// size; this target checks the promise on every header it accepts: every tensor lies inside the
// data region, spans exactly numel x dtype size bytes, and the tensors tile the region in order.
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "decoder/safetensors.h"
#include "tests/fuzz/fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace sieve;
  std::map<std::string, std::string> metadata;
  uint64_t data_start = 0;
  auto infos = SafetensorsFile::ParseHeader(data, size, "fuzz.safetensors", &metadata, &data_start);
  if (!infos.ok()) {
    fuzz::CheckNotInternal(infos.status(), "ParseHeader");
    return 0;
  }
  fuzz::Check(data_start >= 8 && data_start <= size, "data_start outside the file");
  const uint64_t region = size - data_start;
  uint64_t next = 0;
  for (const TensorInfo& t : *infos) {
    fuzz::Check(t.begin == next, "tensor '" + t.name + "' does not start where the last ended");
    fuzz::Check(t.begin <= t.end && t.end <= region, "tensor '" + t.name + "' outside the data");
    fuzz::Check(t.nbytes() == t.numel() * DTypeSize(t.dtype),
                "tensor '" + t.name + "' spans the wrong number of bytes");
    next = t.end;
  }
  fuzz::Check(next == region, "tensors do not tile the data region");
  return 0;
}
