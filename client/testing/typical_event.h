// One typical operator event as a JSON line (a provisioning event from an
// IaC pipeline, with attributes): what the JSON tests require to take the
// fast path and what its benchmark measures.
#ifndef INFRATRAIL_CLIENT_TESTING_TYPICAL_EVENT_H_
#define INFRATRAIL_CLIENT_TESTING_TYPICAL_EVENT_H_

namespace infratrail::testutil {

inline constexpr char kTypicalEventLine[] =
    R"({"kind":"PROVISION","occurredAt":"2026-11-23T10:00:00Z","resource":{"provider":"aws",)"
    R"("type":"ec2-instance","id":"i-0000000000000001"},"actor":{"principal":)"
    R"("terraform@ci.example.com","via":"IAC"},"source":{"repository":)"
    R"("github.com/example/infra","commit":"4f2a9c1e8b7d6a5f4e3d2c1b0a9f8e7d6c5b4a39",)"
    R"("pipeline":"run-1"},"ticket":"CHG-1","attributes":{"region":"eu-west-1",)"
    R"("account":"123456789012","env":"prod"}})";

}  // namespace infratrail::testutil

#endif  // INFRATRAIL_CLIENT_TESTING_TYPICAL_EVENT_H_
