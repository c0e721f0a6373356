#include "verifier/monitor/monitor_config.h"

#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "client/cli_util.h"
#include "client/key_arg.h"
#include "core/hash.h"
#include "toml++/toml.h"
#include "verifier/monitor/tlog_policy_file.h"

namespace infratrail {
namespace {

absl::Status Bad(absl::string_view where, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat(where, ": ", why));
}

absl::Status SetDuration(const std::string& text, absl::string_view where, absl::Duration* out) {
  if (text.empty()) return absl::OkStatus();
  absl::StatusOr<absl::Duration> d = cli::ParseDurationArg(text, where);
  if (!d.ok()) return d.status();
  *out = *d;
  return absl::OkStatus();
}

absl::StatusOr<EntryFormat> ParseEntryFormat(const std::string& s, absl::string_view where) {
  if (s == "infraevent") return EntryFormat::kInfraEvent;
  if (s == "opaque") return EntryFormat::kOpaque;
  return Bad(where, absl::StrCat("\"", s, "\" is not infraevent or opaque"));
}

// Flag or key names for messages.
struct Names {
  std::string url, key, witness, threshold, policy;
};

// One log as given, before validation.
struct LogSpec {
  std::string url, key;
  std::vector<std::string> witnesses;  // keys or peer URLs
  size_t threshold = 0;
  std::string witness_policy;  // file
  EntryFormat format = EntryFormat::kInfraEvent;
};

bool IsHttpUrl(absl::string_view s) {
  return absl::StartsWith(s, "http://") || absl::StartsWith(s, "https://");
}

absl::Status AddPeer(GossipPeer peer, absl::string_view where, std::vector<GossipPeer>* peers) {
  while (absl::EndsWith(peer.url, "/")) peer.url.pop_back();
  if (peer.label.empty()) {
    absl::string_view host = peer.url;
    if (!absl::ConsumePrefix(&host, "http://")) absl::ConsumePrefix(&host, "https://");
    peer.label = GossipLabel(host);
  }
  for (GossipPeer& p : *peers) {
    if (p.url != peer.url) continue;
    // A URL given as a plain peer and as a policy witness is that witness.
    if (!p.witness.has_value() && peer.witness.has_value()) {
      p = std::move(peer);
      return absl::OkStatus();
    }
    return Bad(where, absl::StrCat("peer ", peer.url, " is listed twice"));
  }
  if (peers->size() == kMaxGossipPeers) {
    return Bad(where, absl::StrCat("more than ", kMaxGossipPeers, " gossip peers"));
  }
  peers->push_back(std::move(peer));
  return absl::OkStatus();
}

absl::StatusOr<MonitoredLog> MakeLog(const LogSpec& spec, const Names& names) {
  MonitoredLog log;
  if (!IsHttpUrl(spec.url) && !absl::StartsWith(spec.url, "grpc://") &&
      !absl::StartsWith(spec.url, "grpcs://")) {
    return Bad(names.url, absl::StrCat("\"", spec.url,
                                       "\" is not http(s)://BASE (a tlog-tiles base URL) or "
                                       "grpc(s)://HOST:PORT (the infratrail.v1.Log API)"));
  }
  log.url = spec.url;
  std::vector<NoteVerifier> ws;
  for (const std::string& w : spec.witnesses) {
    if (IsHttpUrl(w)) {
      // Labelled by its URL without the scheme.
      if (absl::Status s =
              AddPeer(GossipPeer{.url = w, .label = "", .witness = {}}, names.witness, &log.peers);
          !s.ok()) {
        return s;
      }
      continue;
    }
    absl::StatusOr<NoteVerifier> v = ParseVerifierKeyArg(w, names.witness);
    if (!v.ok()) return v.status();
    ws.push_back(*v);
  }
  std::shared_ptr<const TlogPolicy> policy;
  if (!spec.witness_policy.empty()) {
    if (!ws.empty() || spec.threshold > 0) {
      return Bad(names.policy,
                 absl::StrCat("the policy gives the witnesses and the quorum: not with ",
                              names.witness, " keys or ", names.threshold));
    }
    absl::StatusOr<std::shared_ptr<const TlogPolicy>> p =
        LoadTlogPolicyFile(spec.witness_policy, names.policy);
    if (!p.ok()) return p.status();
    policy = *std::move(p);
  }
  if (spec.key.empty() && policy != nullptr) {
    absl::StatusOr<NoteVerifier> k =
        LogKeyFromPolicy(*policy, "", absl::StrCat(names.key, " not given, and ", names.policy));
    if (!k.ok()) return k.status();
    log.key = *k;
  } else {
    absl::StatusOr<NoteVerifier> k = ParseVerifierKeyArg(spec.key, names.key);
    if (!k.ok()) return k.status();
    log.key = *k;
  }
  if (policy != nullptr) {
    if (absl::Status s = CheckPolicyLists(*policy, log.key, names.policy); !s.ok()) return s;
    for (const TlogPolicyWitness& w : policy->witnesses()) {
      if (w.url.empty()) continue;
      if (absl::Status s =
              AddPeer(GossipPeer{.url = w.url, .label = GossipLabel(w.name), .witness = w.key},
                      names.policy, &log.peers);
          !s.ok()) {
        return s;
      }
    }
    log.witnesses = WitnessPolicy::FromTlogPolicy(std::move(policy));
  } else {
    absl::StatusOr<WitnessPolicy> p = WitnessPolicy::Create(std::move(ws), spec.threshold);
    if (!p.ok()) return Bad(names.threshold, p.status().message());
    log.witnesses = *p;
  }
  log.entry_format = spec.format;
  return log;
}

// Reads an optional string key of `t`; InvalidArgument if it is not one.
absl::Status GetString(const toml::table& t, const char* key, absl::string_view where,
                       std::string* out) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return absl::OkStatus();
  if (!n->is_string()) {
    return Bad(absl::StrCat(where, " line ", n->source().begin.line, ": ", key), "not a string");
  }
  *out = n->value<std::string>().value();
  return absl::OkStatus();
}

absl::Status GetInt(const toml::table& t, const char* key, absl::string_view where, int64_t lo,
                    int64_t hi, int64_t* out) {
  const toml::node* n = t.get(key);
  if (n == nullptr) return absl::OkStatus();
  std::optional<int64_t> v = n->value<int64_t>();
  if (!n->is_integer() || !v.has_value() || *v < lo || *v > hi) {
    return Bad(absl::StrCat(where, " line ", n->source().begin.line, ": ", key),
               absl::StrCat("not an integer in [", lo, ", ", hi, "]"));
  }
  *out = *v;
  return absl::OkStatus();
}

}  // namespace

std::string OriginDirName(absl::string_view origin) {
  std::string out;
  for (char c : origin) {
    out += (absl::ascii_isalnum(c) || c == '.' || c == '-' || c == '_') ? c : '_';
  }
  // Distinct origins that escape alike ("a/b", "a_b") still get distinct dirs.
  return absl::StrCat(out.substr(0, 100), "-", HashToHex(Sha256(origin)).substr(0, 8));
}

absl::StatusOr<MonitorConfig> BuildMonitorConfig(const MonitorFlags& f) {
  MonitorConfig c;
  std::string interval, stale, timeout, exec_timeout;
  std::string entry_format_default = "infraevent";
  // The witness policy of every [[log]] without its own.
  std::string witness_policy_default;
  int64_t max_in_flight = 0, bundles = 0, commit_every = 0;
  if (!f.config.empty()) {
    if (!f.log.empty() || !f.log_key.empty() || !f.witnesses.empty() || f.witness_threshold > 0) {
      return Bad("--config", "give the logs in the file or with --log/--log-key, not both");
    }
    toml::table t;
    try {
      t = toml::parse_file(f.config);
    } catch (const toml::parse_error& e) {
      return Bad(absl::StrCat("--config ", f.config, " line ", e.source().begin.line, " column ",
                              e.source().begin.column),
                 std::string(e.description()));
    }
    const std::string where = absl::StrCat("--config ", f.config);
    for (auto [key, out] : std::initializer_list<std::pair<const char*, std::string*>>{
             {"state_dir", &c.state_dir},
             {"interval", &interval},
             {"stale_after", &stale},
             {"timeout", &timeout},
             {"exec_timeout", &exec_timeout},
             {"ca_file", &c.ca_file},
             {"webhook", &c.webhook},
             {"exec", &c.exec},
             {"healthcheck_url", &c.healthcheck_url},
             {"metrics_addr", &c.metrics_addr},
             {"policy", &c.policy},
             {"http_addr", &c.http_addr},
             {"witness_policy", &witness_policy_default},
             {"entry_format", &entry_format_default}}) {
      if (absl::Status s = GetString(t, key, where, out); !s.ok()) return s;
    }
    // The flag over the file, as for the other options.
    if (!f.witness_policy.empty()) witness_policy_default = f.witness_policy;
    if (absl::Status s = GetInt(t, "max_in_flight", where, 1, 256, &max_in_flight); !s.ok())
      return s;
    if (absl::Status s = GetInt(t, "bundles_per_batch", where, 1, 4096, &bundles); !s.ok())
      return s;
    if (absl::Status s = GetInt(t, "commit_every", where, 256, int64_t{1} << 40, &commit_every);
        !s.ok()) {
      return s;
    }
    static const std::set<std::string> kKnown = {
        "state_dir",         "interval",      "stale_after",  "timeout",
        "exec_timeout",      "ca_file",       "webhook",      "exec",
        "healthcheck_url",   "metrics_addr",  "entry_format", "max_in_flight",
        "bundles_per_batch", "commit_every",  "policy",       "log",
        "http_addr",         "witness_policy"};
    for (const auto& [k, v] : t) {
      if (!kKnown.contains(std::string(k.str()))) {
        return Bad(absl::StrCat(where, " line ", v.source().begin.line),
                   absl::StrCat("unknown key \"", std::string(k.str()), "\""));
      }
    }
    const toml::array* logs = t["log"].as_array();
    if (logs == nullptr || logs->empty()) {
      return Bad(where, "no [[log]] table: list each log to follow as [[log]] url = ... key = ...");
    }
    std::set<std::string> origins;
    for (const toml::node& n : *logs) {
      const toml::table* lt = n.as_table();
      const std::string lw = absl::StrCat(where, " [[log]] at line ", n.source().begin.line, ": ");
      if (lt == nullptr) return Bad(lw, "not a table");
      std::string url, key, fmt = entry_format_default, witness_policy;
      std::vector<std::string> witnesses;
      int64_t threshold = 0;
      for (auto [k, out] : std::initializer_list<std::pair<const char*, std::string*>>{
               {"url", &url},
               {"key", &key},
               {"entry_format", &fmt},
               {"witness_policy", &witness_policy}}) {
        if (absl::Status s = GetString(*lt, k, lw, out); !s.ok()) return s;
      }
      if (const toml::node* w = lt->get("witnesses"); w != nullptr) {
        const toml::array* wa = w->as_array();
        if (wa == nullptr) {
          return Bad(absl::StrCat(lw, "witnesses"), "not an array of keys and peer URLs");
        }
        for (const toml::node& e : *wa) {
          if (!e.is_string()) {
            return Bad(absl::StrCat(lw, "witnesses"), "not an array of keys and peer URLs");
          }
          witnesses.push_back(e.value<std::string>().value());
        }
      }
      if (absl::Status s = GetInt(*lt, "witness_threshold", lw, 0, 1000, &threshold); !s.ok()) {
        return s;
      }
      for (const auto& [k, v] : *lt) {
        static const std::set<std::string> kLogKeys = {
            "url", "key", "entry_format", "witnesses", "witness_threshold", "witness_policy"};
        if (!kLogKeys.contains(std::string(k.str()))) {
          return Bad(lw, absl::StrCat("unknown key \"", std::string(k.str()), "\""));
        }
      }
      if (witness_policy.empty()) witness_policy = witness_policy_default;
      if (url.empty() || (key.empty() && witness_policy.empty())) {
        return Bad(lw, "url and key are required (key may come from witness_policy)");
      }
      absl::StatusOr<EntryFormat> format = ParseEntryFormat(fmt, absl::StrCat(lw, "entry_format"));
      if (!format.ok()) return format.status();
      absl::StatusOr<MonitoredLog> log =
          MakeLog(LogSpec{.url = url,
                          .key = key,
                          .witnesses = witnesses,
                          .threshold = static_cast<size_t>(threshold),
                          .witness_policy = witness_policy,
                          .format = *format},
                  Names{.url = absl::StrCat(lw, "url"),
                        .key = absl::StrCat(lw, "key"),
                        .witness = absl::StrCat(lw, "witnesses"),
                        .threshold = absl::StrCat(lw, "witness_threshold"),
                        .policy = absl::StrCat(lw, "witness_policy")});
      if (!log.ok()) return log.status();
      if (!origins.insert(log->key.name()).second) {
        return Bad(lw, absl::StrCat("log ", log->key.name(), " is listed twice"));
      }
      c.logs.push_back(*std::move(log));
    }
  }
  // Flags override the file.
  if (!f.state_dir.empty()) c.state_dir = f.state_dir;
  for (auto [flag, out] : std::initializer_list<std::pair<const std::string*, std::string*>>{
           {&f.interval, &interval},
           {&f.stale_after, &stale},
           {&f.timeout, &timeout},
           {&f.exec_timeout, &exec_timeout}}) {
    if (!flag->empty()) *out = *flag;
  }
  for (auto [flag, out] : std::initializer_list<std::pair<const std::string*, std::string*>>{
           {&f.ca_file, &c.ca_file},
           {&f.webhook, &c.webhook},
           {&f.exec, &c.exec},
           {&f.healthcheck_url, &c.healthcheck_url},
           {&f.metrics_addr, &c.metrics_addr},
           {&f.http_addr, &c.http_addr},
           {&f.policy, &c.policy}}) {
    if (!flag->empty()) *out = *flag;
  }
  if (f.max_in_flight > 0) max_in_flight = f.max_in_flight;
  if (f.bundles_per_batch > 0) bundles = static_cast<int64_t>(f.bundles_per_batch);
  if (f.commit_every > 0) commit_every = static_cast<int64_t>(f.commit_every);
  if (max_in_flight > 0) c.max_in_flight = static_cast<int>(max_in_flight);
  if (bundles > 0) c.bundles_per_batch = static_cast<size_t>(bundles);
  if (commit_every > 0) c.commit_every = static_cast<uint64_t>(commit_every);
  if (absl::Status s = SetDuration(interval, "--interval", &c.interval); !s.ok()) return s;
  if (absl::Status s = SetDuration(stale, "--stale-after", &c.stale_after); !s.ok()) return s;
  if (absl::Status s = SetDuration(timeout, "--timeout", &c.timeout); !s.ok()) return s;
  if (absl::Status s = SetDuration(exec_timeout, "--exec-timeout", &c.exec_timeout); !s.ok()) {
    return s;
  }
  if (c.interval <= absl::ZeroDuration()) return Bad("--interval", "must be positive");
  if (c.timeout <= absl::ZeroDuration()) return Bad("--timeout", "must be positive");
  if (!c.webhook.empty() && !absl::StartsWith(c.webhook, "http://") &&
      !absl::StartsWith(c.webhook, "https://")) {
    return Bad("--webhook", absl::StrCat("\"", c.webhook, "\" is not an http(s) URL"));
  }
  if (c.state_dir.empty()) return Bad("--state-dir", "required (flag or state_dir in --config)");

  if (f.config.empty()) {
    if (f.log.empty() || (f.log_key.empty() && f.witness_policy.empty())) {
      return Bad("--log", "give --log and --log-key, or --config with [[log]] tables");
    }
    absl::StatusOr<EntryFormat> format =
        ParseEntryFormat(f.entry_format.empty() ? "infraevent" : f.entry_format, "--entry-format");
    if (!format.ok()) return format.status();
    absl::StatusOr<MonitoredLog> log = MakeLog(LogSpec{.url = f.log,
                                                       .key = f.log_key,
                                                       .witnesses = f.witnesses,
                                                       .threshold = f.witness_threshold,
                                                       .witness_policy = f.witness_policy,
                                                       .format = *format},
                                               Names{.url = "--log",
                                                     .key = "--log-key",
                                                     .witness = "--witness",
                                                     .threshold = "--witness-threshold",
                                                     .policy = "--witness-policy"});
    if (!log.ok()) return log.status();
    log->state_dir = c.state_dir;
    c.logs.push_back(*std::move(log));
  } else {
    for (MonitoredLog& l : c.logs) {
      if (!f.entry_format.empty()) {
        absl::StatusOr<EntryFormat> format = ParseEntryFormat(f.entry_format, "--entry-format");
        if (!format.ok()) return format.status();
        l.entry_format = *format;
      }
      l.state_dir = absl::StrCat(c.state_dir, "/", OriginDirName(l.key.name()));
    }
  }
  return c;
}

}  // namespace infratrail
