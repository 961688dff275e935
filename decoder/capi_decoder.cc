// The decoder C API (include/sieve/sieve_decoder.h) over EngineModel / Engine (decoder/engine.h).
// Errors go through the same thread-local last error as the rest of libsieve (capi_internal.h).
#include <cstddef>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "decoder/engine.h"
#include "decoder/engine_model.h"
#include "grammar/capi_internal.h"
#include "grammar/capi_json_options.h"
#include "sieve/sieve_decoder.h"

using sieve::Status;
using sieve::StatusCode;
using sieve::capi::Guard;
using sieve::capi::SetError;

struct sieve_model {
  std::atomic<int> refs{1};
  std::shared_ptr<const sieve::EngineModel> model;
  std::string chat_format;
};

struct sieve_engine {
  sieve_model* model = nullptr;  // a reference
  std::unique_ptr<sieve::Engine> engine;
  sieve_token_fn fn = nullptr;
  void* user = nullptr;
};

struct sieve_result {
  sieve::GenerationResult r;
  std::string error_message;
};

namespace {

template <typename T>
bool HasField(const T* opts, size_t offset, size_t size) {
  return opts != nullptr && opts->struct_size >= offset + size;
}
#define SIEVE_DEC_HAS(opts, T, field) \
  HasField(opts, offsetof(T, field), sizeof(((T*)nullptr)->field))

sieve_status CheckStructSize(const void* opts, size_t struct_size, const char* what) {
  if (opts != nullptr && struct_size < sizeof(size_t)) {
    return SetError(StatusCode::kInvalidArgument, std::string(what) + "->struct_size is not set");
  }
  return SIEVE_OK;
}

sieve::JsonSchemaOptions JsonOptions(const sieve_json_schema_options* o) {
  sieve::JsonSchemaOptions j = sieve::Engine::DefaultJsonOptions();
  sieve::capi::ApplyJsonSchemaOptions(o, &j);
  return j;
}

// Line:column for errors with a byte offset into text the caller gave (grammar, regex).
Status WithPosition(Status s, std::string_view text) {
  if (s.offset() >= 0 && s.line() == 0 && static_cast<size_t>(s.offset()) <= text.size()) {
    int line = 1, col = 1;
    for (size_t i = 0; i < static_cast<size_t>(s.offset()); ++i) {
      if (text[i] == '\n') {
        ++line;
        col = 1;
      } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
        ++col;
      }
    }
    s.WithLineColumn(line, col);
  }
  return s;
}

}  // namespace

extern "C" {

void sieve_model_options_init(sieve_model_options* opts) {
  if (opts == nullptr) return;
  std::memset(opts, 0, sizeof *opts);
  opts->struct_size = sizeof *opts;
  opts->device = SIEVE_DEVICE_AUTO;
}

sieve_status sieve_model_load(const sieve_model_options* opts, sieve_model** out) {
  return Guard([&]() -> sieve_status {
    if (out == nullptr) return SetError(StatusCode::kInvalidArgument, "out is NULL");
    *out = nullptr;
    if (sieve_status s = CheckStructSize(opts, opts ? opts->struct_size : 0, "opts");
        s != SIEVE_OK) {
      return s;
    }
    using T = sieve_model_options;
    sieve::EngineModelOptions o;
    if (SIEVE_DEC_HAS(opts, T, path) && opts->path != nullptr) o.folder = opts->path;
    if (SIEVE_DEC_HAS(opts, T, device)) {
      switch (opts->device) {
        case SIEVE_DEVICE_AUTO:
          o.device = sieve::EngineDevice::kAuto;
          break;
        case SIEVE_DEVICE_CPU:
          o.device = sieve::EngineDevice::kCpu;
          break;
        case SIEVE_DEVICE_GPU:
          o.device = sieve::EngineDevice::kGpu;
          break;
        default:
          return SetError(StatusCode::kInvalidArgument,
                          "opts->device " + std::to_string(static_cast<int>(opts->device)) +
                              " is not a sieve_device");
      }
    }
    if (SIEVE_DEC_HAS(opts, T, builtin_seed)) o.builtin_seed = opts->builtin_seed;
    if (SIEVE_DEC_HAS(opts, T, progress_user_data) && opts->progress != nullptr) {
      sieve_load_progress_fn fn = opts->progress;
      void* user = opts->progress_user_data;
      o.progress = [fn, user](const sieve::LoadProgress& p) {
        fn(p.bytes_done, p.bytes_total, p.bytes_per_second, user);
      };
    }
    auto m = sieve::EngineModel::Load(o);
    if (!m.ok()) return SetError(m.status());
    auto* h = new sieve_model();
    h->model = *m;
    h->chat_format = h->model->chat_status().ok() ? sieve::ChatFormatName(h->model->chat_format())
                                                  : "unsupported";
    *out = h;
    return SIEVE_OK;
  });
}

sieve_model* sieve_model_retain(sieve_model* model) {
  if (model != nullptr) model->refs.fetch_add(1);
  return model;
}

void sieve_model_free(sieve_model* model) {
  if (model != nullptr && model->refs.fetch_sub(1) == 1) delete model;
}

sieve_status sieve_model_get_info(const sieve_model* model, sieve_model_info* out) {
  return Guard([&]() -> sieve_status {
    if (model == nullptr || out == nullptr) {
      return SetError(StatusCode::kInvalidArgument, "model or out is NULL");
    }
    if (out->struct_size < sizeof(size_t)) {
      return SetError(StatusCode::kInvalidArgument, "out->struct_size is not set");
    }
    sieve_model_info info;
    std::memset(&info, 0, sizeof info);
    const sieve::EngineModel& m = *model->model;
    info.struct_size = out->struct_size;
    info.vocab_size = m.config().vocab_size;
    info.tokenizer_size = static_cast<int64_t>(m.tokenizer().vocabulary().size());
    info.num_layers = static_cast<int32_t>(m.config().num_hidden_layers);
    info.hidden_size = static_cast<int32_t>(m.config().hidden_size);
    info.device = m.device() == sieve::EngineDevice::kGpu ? SIEVE_DEVICE_GPU : SIEVE_DEVICE_CPU;
    info.builtin = m.builtin() ? 1 : 0;
    info.weight_bytes = m.weight_bytes();
    info.description = m.description().c_str();
    info.chat_format = model->chat_format.c_str();
    std::memcpy(out, &info, std::min(out->struct_size, sizeof info));
    return SIEVE_OK;
  });
}

void sieve_engine_options_init(sieve_engine_options* opts) {
  if (opts == nullptr) return;
  std::memset(opts, 0, sizeof *opts);
  opts->struct_size = sizeof *opts;
  opts->max_batch = 8;
  opts->max_seq_len = 4096;
}

sieve_status sieve_engine_create(sieve_model* model, const sieve_engine_options* opts,
                                 sieve_engine** out) {
  return Guard([&]() -> sieve_status {
    if (out == nullptr || model == nullptr) {
      return SetError(StatusCode::kInvalidArgument, "model or out is NULL");
    }
    *out = nullptr;
    if (sieve_status s = CheckStructSize(opts, opts ? opts->struct_size : 0, "opts");
        s != SIEVE_OK) {
      return s;
    }
    using T = sieve_engine_options;
    int32_t max_batch = 8;
    int64_t max_seq_len = 4096;
    sieve::EngineOptions eo;
    if (SIEVE_DEC_HAS(opts, T, max_batch) && opts->max_batch != 0) max_batch = opts->max_batch;
    if (SIEVE_DEC_HAS(opts, T, max_seq_len) && opts->max_seq_len != 0)
      max_seq_len = opts->max_seq_len;
    if (SIEVE_DEC_HAS(opts, T, mask_threads)) eo.mask_threads = opts->mask_threads;
    auto backend = model->model->CreateBackend(max_batch, max_seq_len);
    if (!backend.ok()) return SetError(backend.status());
    auto engine = sieve::Engine::Create(model->model, std::move(*backend), eo);
    if (!engine.ok()) return SetError(engine.status());
    auto* h = new sieve_engine();
    h->model = sieve_model_retain(model);
    h->engine = std::move(*engine);
    *out = h;
    return SIEVE_OK;
  });
}

void sieve_engine_free(sieve_engine* engine) {
  if (engine == nullptr) return;
  engine->engine.reset();
  sieve_model_free(engine->model);
  delete engine;
}

void sieve_request_init(sieve_request* req) {
  if (req == nullptr) return;
  std::memset(req, 0, sizeof *req);
  req->struct_size = sizeof *req;
  req->temperature = 1.0f;
  req->top_p = 1.0f;
  req->max_tokens = 256;
  req->jump_forward = 1;
}

sieve_status sieve_engine_submit(sieve_engine* engine, const sieve_request* req, int64_t* id_out) {
  return Guard([&]() -> sieve_status {
    if (engine == nullptr || req == nullptr) {
      return SetError(StatusCode::kInvalidArgument, "engine or req is NULL");
    }
    if (req->struct_size < sizeof(size_t)) {
      return SetError(StatusCode::kInvalidArgument, "req->struct_size is not set");
    }
    sieve_request q;
    sieve_request_init(&q);
    std::memcpy(&q, req, std::min(req->struct_size, sizeof q));
    sieve::GenerationRequest g;
    if (q.n_messages > 0) {
      if (q.messages == nullptr) return SetError(StatusCode::kInvalidArgument, "messages is NULL");
      for (size_t i = 0; i < q.n_messages; ++i) {
        if (q.messages[i].role == nullptr || q.messages[i].content == nullptr) {
          return SetError(StatusCode::kInvalidArgument,
                          "messages[" + std::to_string(i) + "] has a NULL role or content");
        }
        g.messages.push_back({q.messages[i].role, q.messages[i].content});
      }
    } else {
      if (q.prompt == nullptr)
        return SetError(StatusCode::kInvalidArgument, "no prompt and no messages");
      g.prompt = q.prompt;
    }
    std::string_view text;
    switch (q.structure) {
      case SIEVE_STRUCTURE_NONE:
        break;
      case SIEVE_STRUCTURE_JSON_SCHEMA:
        g.structure.kind = sieve::StructureKind::kJsonSchema;
        break;
      case SIEVE_STRUCTURE_GRAMMAR:
        g.structure.kind = sieve::StructureKind::kGrammar;
        break;
      case SIEVE_STRUCTURE_REGEX:
        g.structure.kind = sieve::StructureKind::kRegex;
        break;
      default:
        return SetError(StatusCode::kInvalidArgument,
                        "structure " + std::to_string(static_cast<int>(q.structure)) +
                            " is not a sieve_structure_kind");
    }
    if (q.structure != SIEVE_STRUCTURE_NONE) {
      if (q.structure_text == nullptr) {
        return SetError(StatusCode::kInvalidArgument, "structure_text is NULL");
      }
      text = std::string_view(q.structure_text,
                              q.structure_len ? q.structure_len : std::strlen(q.structure_text));
      g.structure.text = std::string(text);
    }
    if (q.grammar_root != nullptr) g.structure.root = q.grammar_root;
    g.structure.json = JsonOptions(q.json_options);
    g.sampling.temperature = q.temperature;
    g.sampling.top_k = q.top_k;
    g.sampling.top_p = q.top_p;
    g.sampling.seed = q.seed;
    g.max_tokens = q.max_tokens;
    if (q.n_stop_strings > 0 && q.stop_strings == nullptr) {
      return SetError(StatusCode::kInvalidArgument, "stop_strings is NULL");
    }
    for (size_t i = 0; i < q.n_stop_strings; ++i) {
      if (q.stop_strings[i] == nullptr) {
        return SetError(StatusCode::kInvalidArgument,
                        "stop_strings[" + std::to_string(i) + "] is NULL");
      }
      g.stop_strings.emplace_back(q.stop_strings[i]);
    }
    if (q.n_stop_tokens > 0 && q.stop_tokens == nullptr) {
      return SetError(StatusCode::kInvalidArgument, "stop_tokens is NULL");
    }
    g.stop_tokens.assign(q.stop_tokens, q.stop_tokens + q.n_stop_tokens);
    g.jump_forward = q.jump_forward != 0;
    auto id = engine->engine->Submit(std::move(g));
    if (!id.ok()) {
      Status s = id.status();
      if (q.structure == SIEVE_STRUCTURE_GRAMMAR || q.structure == SIEVE_STRUCTURE_REGEX) {
        s = WithPosition(std::move(s), text);
      }
      return SetError(s);
    }
    if (id_out != nullptr) *id_out = *id;
    return SIEVE_OK;
  });
}

sieve_status sieve_engine_set_token_callback(sieve_engine* engine, sieve_token_fn fn,
                                             void* user_data) {
  if (engine == nullptr) return SetError(StatusCode::kInvalidArgument, "engine is NULL");
  engine->fn = fn;
  engine->user = user_data;
  if (fn == nullptr) {
    engine->engine->SetTokenCallback(nullptr);
  } else {
    engine->engine->SetTokenCallback([engine](int64_t id, std::string_view piece, bool done) {
      engine->fn(id, piece.data(), piece.size(), done ? 1 : 0, engine->user);
    });
  }
  return SIEVE_OK;
}

sieve_status sieve_engine_step(sieve_engine* engine, int* more) {
  return Guard([&]() -> sieve_status {
    if (engine == nullptr) return SetError(StatusCode::kInvalidArgument, "engine is NULL");
    auto r = engine->engine->Step();
    if (!r.ok()) return SetError(r.status());
    if (more != nullptr) *more = *r ? 1 : 0;
    return SIEVE_OK;
  });
}

sieve_status sieve_engine_run(sieve_engine* engine) {
  return Guard([&]() -> sieve_status {
    if (engine == nullptr) return SetError(StatusCode::kInvalidArgument, "engine is NULL");
    Status s = engine->engine->RunToCompletion();
    return s.ok() ? SIEVE_OK : SetError(s);
  });
}

sieve_status sieve_engine_take_result(sieve_engine* engine, sieve_result** out) {
  return Guard([&]() -> sieve_status {
    if (engine == nullptr || out == nullptr) {
      return SetError(StatusCode::kInvalidArgument, "engine or out is NULL");
    }
    *out = nullptr;
    sieve::GenerationResult next;
    if (!engine->engine->TakeNext(&next)) return SIEVE_OK;
    auto* r = new sieve_result();
    r->r = std::move(next);
    r->error_message = r->r.error.ToString();
    *out = r;
    return SIEVE_OK;
  });
}

void sieve_result_free(sieve_result* result) { delete result; }

int64_t sieve_result_id(const sieve_result* result) { return result ? result->r.id : -1; }

const char* sieve_result_text(const sieve_result* result, size_t* len) {
  if (result == nullptr) {
    if (len != nullptr) *len = 0;
    return nullptr;
  }
  if (len != nullptr) *len = result->r.text.size();
  return result->r.text.c_str();
}

sieve_finish_reason sieve_result_finish(const sieve_result* result) {
  if (result == nullptr) return SIEVE_FINISH_ERROR;
  switch (result->r.finish) {
    case sieve::FinishReason::kStop:
      return SIEVE_FINISH_STOP;
    case sieve::FinishReason::kGrammarEnd:
      return SIEVE_FINISH_GRAMMAR_END;
    case sieve::FinishReason::kStopString:
      return SIEVE_FINISH_STOP_STRING;
    case sieve::FinishReason::kMaxTokens:
      return SIEVE_FINISH_MAX_TOKENS;
    case sieve::FinishReason::kMaxLength:
      return SIEVE_FINISH_MAX_LENGTH;
    default:
      return SIEVE_FINISH_ERROR;
  }
}

int sieve_result_complete(const sieve_result* result) {
  return result != nullptr && result->r.complete ? 1 : 0;
}

sieve_status sieve_result_error(const sieve_result* result, const char** message) {
  if (result == nullptr) return SIEVE_ERR_INVALID_ARGUMENT;
  if (message != nullptr) *message = result->r.error.ok() ? "" : result->error_message.c_str();
  return static_cast<sieve_status>(result->r.error.code());
}

sieve_status sieve_result_get_stats(const sieve_result* result, sieve_result_stats* out) {
  if (result == nullptr || out == nullptr) {
    return SetError(StatusCode::kInvalidArgument, "result or out is NULL");
  }
  if (out->struct_size < sizeof(size_t)) {
    return SetError(StatusCode::kInvalidArgument, "out->struct_size is not set");
  }
  sieve_result_stats s;
  std::memset(&s, 0, sizeof s);
  s.struct_size = out->struct_size;
  s.prompt_tokens = result->r.prompt_tokens;
  s.output_tokens = static_cast<int32_t>(result->r.tokens.size());
  s.forced_tokens = result->r.forced_tokens;
  s.steps_saved = result->r.steps_saved;
  s.first_token_ms = result->r.first_token_ms;
  s.total_ms = result->r.total_ms;
  std::memcpy(out, &s, std::min(out->struct_size, sizeof s));
  return SIEVE_OK;
}

const int32_t* sieve_result_tokens(const sieve_result* result, size_t* n) {
  if (result == nullptr) {
    if (n != nullptr) *n = 0;
    return nullptr;
  }
  if (n != nullptr) *n = result->r.tokens.size();
  return result->r.tokens.data();
}

sieve_status sieve_engine_get_metrics(const sieve_engine* engine, sieve_engine_metrics* out) {
  if (engine == nullptr || out == nullptr) {
    return SetError(StatusCode::kInvalidArgument, "engine or out is NULL");
  }
  if (out->struct_size < sizeof(size_t)) {
    return SetError(StatusCode::kInvalidArgument, "out->struct_size is not set");
  }
  const sieve::EngineMetrics m = engine->engine->metrics();
  sieve_engine_metrics s;
  std::memset(&s, 0, sizeof s);
  s.struct_size = out->struct_size;
  s.requests = m.requests;
  s.steps = m.steps;
  s.output_tokens = m.output_tokens;
  s.prompt_tokens = m.prompt_tokens;
  s.forced_tokens = m.forced_tokens;
  s.steps_saved = m.steps_saved;
  s.seconds = m.seconds;
  s.tokens_per_second = m.tokens_per_second;
  s.time_per_output_token_ms = m.time_per_output_token_ms;
  s.step_ms_p50 = m.step_ms_p50;
  s.mask_us_p50 = m.mask_us_p50;
  s.mask_us_p99 = m.mask_us_p99;
  s.mask_hidden_fraction = m.mask_hidden_fraction;
  s.forward_ms_p50 = m.forward_ms_p50;
  s.jump_forward_deferred = m.jump_forward_deferred;
  std::memcpy(out, &s, std::min(out->struct_size, sizeof s));
  return SIEVE_OK;
}

void sieve_engine_reset_metrics(sieve_engine* engine) {
  if (engine != nullptr) engine->engine->ResetMetrics();
}

}  // extern "C"
