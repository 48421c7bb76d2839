// Times as virtconverge writes them for people and tools: UTC, RFC 3339 ("2026-12-07T09:55:03Z").
#pragma once

#include <ctime>
#include <string>

namespace vc {

/// `t` formatted with strftime's `format` in UTC (at most 63 characters).
std::string FormatUtc(std::time_t t, const char* format);

/// `t` as "YYYY-MM-DDTHH:MM:SSZ".
inline std::string Rfc3339Utc(std::time_t t) { return FormatUtc(t, "%Y-%m-%dT%H:%M:%SZ"); }

/// Now, as Rfc3339Utc.
inline std::string Rfc3339UtcNow() { return Rfc3339Utc(std::time(nullptr)); }

}  // namespace vc
