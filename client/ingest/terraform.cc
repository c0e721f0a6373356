// The terraform adapter: `terraform show -json PLANFILE` (docs/ingest.md,
// "terraform", has the mapping table and the reasons for each decision).
//
// One record is one plan; each entry of resource_changes gives its outcomes.
// The events say what the plan changes, under the address Terraform gives
// the resource (`module.net.aws_subnet.private["a"]`): the address is known
// before apply (a new object's cloud id is not) and stays the same across
// replacements, so a PROVISION and its DEPROVISION name one resource. The
// cloud's own id goes in terraform.cloud_id.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "client/event_flags.h"
#include "client/ingest/adapters.h"
#include "proto/limits.h"

namespace infratrail::ingest {
namespace {

// One event's part of a resource change: what it does to which object.
struct Step {
  v1::EventKind kind;
  std::string_view action;  // terraform.action: "create", "delete", "update"
  std::string_view state;   // where the object's cloud id is: "before" or "after"
  std::string_view where;   // appended to "resource_changes[i]" ("" or ":delete")
};

// The outcome of one change.actions list: events in log order, or a skip
// reason. Replacements log the DEPROVISION before the PROVISION whichever
// way Terraform orders them (terraform.replace says which): the monitor's
// deprovision_follows_provision tracks one live object per address, and
// create-then-delete would leave a live address recorded as deprovisioned.
struct ActionPlan {
  std::vector<Step> steps;
  std::string_view skip;     // non-empty: skip the whole change
  std::string_view replace;  // terraform.replace for replacements
  std::string_view forget;   // a forgotten object besides the steps
};

ActionPlan Steps(std::vector<Step> steps, std::string_view replace = "",
                 std::string_view forget = "") {
  ActionPlan p;
  p.steps = std::move(steps);
  p.replace = replace;
  p.forget = forget;
  return p;
}

ActionPlan Skip(std::string_view reason) {
  ActionPlan p;
  p.skip = reason;
  return p;
}

std::optional<ActionPlan> PlanFor(const std::vector<std::string_view>& actions) {
  using A = std::vector<std::string_view>;
  const Step create = {v1::PROVISION, "create", "after", ""};
  const Step del = {v1::DEPROVISION, "delete", "before", ""};
  if (actions == A{"create"}) return Steps({create});
  if (actions == A{"delete"}) return Steps({del});
  if (actions == A{"update"}) return Steps({{v1::CONFIG_CHANGE, "update", "after", ""}});
  const std::vector<Step> replace = {{v1::DEPROVISION, "delete", "before", "delete"},
                                     {v1::PROVISION, "create", "after", "create"}};
  if (actions == A{"delete", "create"}) return Steps(replace, "delete_before_create");
  if (actions == A{"create", "delete"}) return Steps(replace, "create_before_destroy");
  // The old object stays in the cloud, no longer managed: not a deprovision.
  if (actions == A{"create", "forget"}) {
    return Steps({{v1::PROVISION, "create", "after", "create"}}, "create_then_forget", "forget");
  }
  if (actions == A{"no-op"}) return Skip("no-op");
  if (actions == A{"read"}) return Skip("read");
  if (actions == A{"forget"}) return Skip("forget");
  return std::nullopt;
}

// "registry.terraform.io/hashicorp/aws" -> "aws"; a bare "aws" (Terraform
// 0.12) stays.
std::string_view ProviderType(std::string_view provider_name) {
  const size_t slash = provider_name.rfind('/');
  return slash == std::string_view::npos ? provider_name : provider_name.substr(slash + 1);
}

std::string Quoted(const std::vector<std::string_view>& v) {
  return absl::StrCat("[",
                      absl::StrJoin(v, ",",
                                    [](std::string* out, std::string_view s) {
                                      absl::StrAppend(out, "\"", Excerpt(s, 40), "\"");
                                    }),
                      "]");
}

class TerraformMapper : public Mapper {
 public:
  explicit TerraformMapper(MapperOptions options) : options_(std::move(options)) {}

  absl::string_view name() const override { return "terraform"; }
  // A plan is one document; its resource_changes are not records of their
  // own (each needs the plan's timestamp, version and digest).
  std::vector<std::string_view> container_keys() const override { return {}; }

  Mapping Map(simdjson::dom::element record, std::string_view raw) const override {
    std::optional<simdjson::dom::element> changes = Get(record, "resource_changes");
    // Terraform leaves resource_changes out of a plan with no changes;
    // planned_values is in every plan and in nothing else `terraform show
    // -json` writes (a state has "values").
    if (!changes.has_value() && !Get(record, "planned_values").has_value()) {
      return {Unmapped("resource_changes: missing (not `terraform show -json` output of a plan)")};
    }
    // An errored plan cannot be applied: nothing in it happens.
    bool errored = false;
    if (std::optional<simdjson::dom::element> e = Get(record, "errored")) {
      if (e->get_bool().get(errored) != simdjson::SUCCESS) errored = false;
    }
    if (errored) return {Skipped("errored")};
    Common common;
    // Without the line end, which a one-line record's bytes leave out and a
    // document's keep: `printf %s "$(cat plan.json)" | sha256sum` gives it.
    while (!raw.empty() &&
           (raw.back() == '\n' || raw.back() == '\r' || raw.back() == ' ' || raw.back() == '\t')) {
      raw.remove_suffix(1);
    }
    common.plan_sha256 = Sha256Hex(raw);
    if (auto v = GetString(record, "terraform_version")) common.version = *v;
    if (std::optional<std::string_view> ts = GetString(record, "timestamp")) {
      if (absl::Status s = SetOccurredAt(*ts, "timestamp", &common.stamp); !s.ok()) {
        return {Unmapped(std::string(s.message()))};
      }
    } else if (Get(record, "timestamp").has_value()) {
      return {Unmapped("timestamp: not a string")};
    }
    if (!changes.has_value()) return {Skipped("no-changes")};
    simdjson::dom::array list;
    if (changes->get_array().get(list) != simdjson::SUCCESS) {
      return {Unmapped("resource_changes: not an array")};
    }
    if (list.size() == 0) return {Skipped("no-changes")};
    Mapping out;
    size_t i = 0;
    for (simdjson::dom::element change : list) {
      MapChange(change, absl::StrCat("resource_changes[", i++, "]"), common, &out);
    }
    return out;
  }

 private:
  // What every event of one plan shares.
  struct Common {
    std::string plan_sha256;
    std::string version;
    v1::InfraEvent stamp;  // occurred_at only
  };

  void MapChange(simdjson::dom::element rc, const std::string& where, const Common& common,
                 Mapping* out) const {
    if (!rc.is_object()) {
      out->push_back(Unmapped("not an object", where));
      return;
    }
    if (GetString(rc, "mode") == "data") {
      out->push_back(Skipped("read", where));
      return;
    }
    std::vector<std::string_view> actions;
    simdjson::dom::array list;
    std::optional<simdjson::dom::element> a = Get(rc, "change.actions");
    if (!a.has_value() || a->get_array().get(list) != simdjson::SUCCESS) {
      out->push_back(Unmapped("change.actions: missing or not an array", where));
      return;
    }
    for (simdjson::dom::element e : list) {
      std::string_view s;
      if (e.get_string().get(s) != simdjson::SUCCESS) {
        out->push_back(Unmapped("change.actions: an action is not a string", where));
        return;
      }
      actions.push_back(s);
    }
    std::optional<ActionPlan> plan = PlanFor(actions);
    if (!plan.has_value()) {
      out->push_back(Unmapped(
          absl::StrCat("change.actions ", Quoted(actions), " is not in the mapping table"), where));
      return;
    }
    // An import that changes nothing brings an existing object under
    // Terraform: nothing happens in the cloud.
    if (plan->skip == "no-op" && Get(rc, "change.importing").has_value()) {
      out->push_back(Skipped("import", where));
      return;
    }
    if (!plan->skip.empty()) {
      out->push_back(Skipped(std::string(plan->skip), where));
      return;
    }
    std::optional<std::string_view> address = GetString(rc, "address");
    std::optional<std::string_view> type = GetString(rc, "type");
    std::optional<std::string_view> provider = GetString(rc, "provider_name");
    for (auto [field, value] : {std::pair{"address", address}, std::pair{"type", type},
                                std::pair{"provider_name", provider}}) {
      if (!value.has_value() || value->empty()) {
        out->push_back(Unmapped(absl::StrCat(field, ": missing"), where));
        return;
      }
    }
    for (const Step& step : plan->steps) {
      v1::InfraEvent ev = common.stamp;
      ev.set_kind(step.kind);
      ev.mutable_resource()->set_provider(std::string(ProviderType(*provider)));
      ev.mutable_resource()->set_type(std::string(*type));
      ev.mutable_resource()->set_id(std::string(*address));
      ev.mutable_actor()->set_principal(options_.actor);
      ev.mutable_actor()->set_via(v1::IAC);
      ev.mutable_source()->set_repository(options_.repository);
      ev.mutable_source()->set_commit(options_.commit);
      ev.mutable_source()->set_pipeline(options_.pipeline);
      auto& attrs = *ev.mutable_attributes();
      attrs["terraform.address"] = std::string(*address);
      attrs["terraform.action"] = std::string(step.action);
      attrs["terraform.plan_sha256"] = common.plan_sha256;
      if (!common.version.empty()) attrs["terraform.version"] = common.version;
      if (!plan->replace.empty()) attrs["terraform.replace"] = std::string(plan->replace);
      const std::string state = absl::StrCat("change.", Av(step.state));
      if (auto id = GetString(rc, absl::StrCat(state, ".id")); id && !id->empty()) {
        attrs["terraform.cloud_id"] = std::string(*id);
      }
      if (auto arn = GetString(rc, absl::StrCat(state, ".arn")); arn && !arn->empty()) {
        attrs["terraform.cloud_arn"] = std::string(*arn);
      }
      for (auto [key, path] : {std::pair{"terraform.action_reason", "action_reason"},
                               std::pair{"terraform.previous_address", "previous_address"},
                               std::pair{"terraform.deposed", "deposed"},
                               std::pair{"terraform.import_id", "change.importing.id"}}) {
        if (auto v = GetString(rc, path); v && !v->empty()) attrs[key] = std::string(*v);
      }
      const std::string at = step.where.empty() ? where : absl::StrCat(where, ":", Av(step.where));
      if (const size_t n = SerializeEvent(ev).size(); n > kMaxEntryBytes) {
        out->push_back(Unmapped(absl::StrCat("event of ", n, " bytes exceeds the entry limit of ",
                                             kMaxEntryBytes, " (address ", Excerpt(*address), ")"),
                                at));
        continue;
      }
      out->push_back(Event(std::move(ev), at));
    }
    if (!plan->forget.empty()) {
      out->push_back(Skipped(std::string(plan->forget), absl::StrCat(where, ":forget")));
    }
  }

  MapperOptions options_;
};

}  // namespace

std::unique_ptr<Mapper> NewTerraformMapper(const MapperOptions& options) {
  return std::make_unique<TerraformMapper>(options);
}

}  // namespace infratrail::ingest
