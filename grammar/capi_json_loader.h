// C API internals: sieve_json_schema_options' document loader (load_document,
// load_document_user) as JsonSchemaOptions::load_document, for the grammar and decoder C APIs.
// Not a public header.
#ifndef SIEVE_GRAMMAR_CAPI_JSON_LOADER_H_
#define SIEVE_GRAMMAR_CAPI_JSON_LOADER_H_

#include "grammar/json_schema.h"
#include "sieve/sieve.h"

namespace sieve::capi {

// Sets j->load_document when `o` (struct_size permitting) has a load_document callback; the
// document text is copied before the callback can be called again. Leaves `j` alone otherwise.
void SetDocumentLoader(const sieve_json_schema_options* o, JsonSchemaOptions* j);

}  // namespace sieve::capi

#endif  // SIEVE_GRAMMAR_CAPI_JSON_LOADER_H_
