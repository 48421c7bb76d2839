// The plan for people, rendered from the JSON plan (never from anything else, so the two cannot
// disagree).
#pragma once

#include <string>

#include "engine/resource.h"

namespace vc {

struct TextStyle {
  bool color = false;    // ANSI colours; the CLI enables them on a TTY unless NO_COLOR is set
  bool verbose = false;  // each step with its arguments, not only its description
};

/// Renders a plan produced by PlanToJson. Ends with the "Plan: ..." summary line.
std::string RenderPlanText(const Json& plan, const TextStyle& style);

/// A JSON value as the document would write it: strings bare, lists and maps in flow style.
std::string RenderValue(const Json& value);

}  // namespace vc
