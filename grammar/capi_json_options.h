// C API internals: sieve_json_schema_options as JsonSchemaOptions, for the grammar and decoder
// C APIs (one reading of the struct for both). Not a public header.
#ifndef SIEVE_GRAMMAR_CAPI_JSON_OPTIONS_H_
#define SIEVE_GRAMMAR_CAPI_JSON_OPTIONS_H_

#include "grammar/json_schema.h"
#include "sieve/sieve.h"

namespace sieve::capi {

// Sets j->load_document when `o` (struct_size permitting) has a load_document callback; the
// document text is copied before the callback can be called again. Leaves `j` alone otherwise.
void SetDocumentLoader(const sieve_json_schema_options* o, JsonSchemaOptions* j);

// Every field of `o` that its struct_size holds and that is set (nonzero, non-null) overrides
// `*j` (the caller's defaults: the library's, or the engine's compact whitespace); the document
// loader as SetDocumentLoader. A null `o` leaves `*j` alone.
void ApplyJsonSchemaOptions(const sieve_json_schema_options* o, JsonSchemaOptions* j);

}  // namespace sieve::capi

#endif  // SIEVE_GRAMMAR_CAPI_JSON_OPTIONS_H_
