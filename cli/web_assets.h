// What `virtconverge server` serves that is not computed: the review page (web/index.html) and
// the OpenAPI description of its API (schemas/openapi.json), compiled into the binary so the
// server needs no files at run time.
#pragma once

#include <string_view>

namespace vc::cli {

std::string_view ReviewPage();
std::string_view OpenApiDescription();

}  // namespace vc::cli
