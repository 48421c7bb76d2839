// The normative JSON Schemas of schemas/, compiled into the engine.
#pragma once

#include <string_view>

namespace vc {

/// The desired-state document schema (schemas/desired-state.schema.json), verbatim.
std::string_view DesiredStateSchema();

/// The plan schema (schemas/plan.schema.json), verbatim.
std::string_view PlanSchema();

}  // namespace vc
