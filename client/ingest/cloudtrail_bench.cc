// The cost of mapping CloudTrail records: a typical mix of one RunInstances
// (two instances) to three AssumeRole records, as a CI-driven account logs
// them, parsed once and mapped over and over. Run by hand:
//   build/client/ingest/cloudtrail_bench --benchmark_repetitions=5
//   --benchmark_report_aggregates_only=true
// items_per_second is records mapped per second; ns/record is its inverse.
#include <string>
#include <vector>

#include "benchmark/benchmark.h"
#include "client/event_flags.h"
#include "client/ingest/adapters.h"

namespace infratrail::ingest {
namespace {

constexpr char kRunInstances[] =
    R"({"eventVersion":"1.09","userIdentity":{"type":"AssumedRole","principalId":"AROAIDPPEZS35WEXAMPLE:ci-run-8812","arn":"arn:aws:sts::111122223333:assumed-role/DeployRole/ci-run-8812","accountId":"111122223333","accessKeyId":"ASIAIOSFODNN7EXAMPLE","sessionContext":{"sessionIssuer":{"type":"Role","principalId":"AROAIDPPEZS35WEXAMPLE","arn":"arn:aws:iam::111122223333:role/DeployRole","accountId":"111122223333","userName":"DeployRole"},"webIdFederationData":{},"attributes":{"creationDate":"2026-11-30T08:59:12Z","mfaAuthenticated":"false"}}},"eventTime":"2026-11-30T09:14:02Z","eventSource":"ec2.amazonaws.com","eventName":"RunInstances","awsRegion":"eu-west-1","sourceIPAddress":"198.51.100.24","userAgent":"aws-cli/2.15.10 Python/3.11.6 Linux/6.1.0 exe/x86_64.debian.12 prompt/off command/ec2.run-instances","requestParameters":{"instancesSet":{"items":[{"imageId":"ami-0abcdef1234567890","minCount":2,"maxCount":2}]},"instanceType":"t3.micro","blockDeviceMapping":{},"monitoring":{"enabled":false},"disableApiTermination":false,"clientToken":"a1b2c3d4"},"responseElements":{"requestId":"6e1f7d0e-4b29-4f0c-8d1a-3a2b1c0d9e8f","reservationId":"r-0123456789abcdef0","ownerId":"111122223333","groupSet":{},"instancesSet":{"items":[{"instanceId":"i-0a1b2c3d4e5f60001","imageId":"ami-0abcdef1234567890","instanceState":{"code":0,"name":"pending"},"privateDnsName":"ip-10-0-1-17.eu-west-1.compute.internal","amiLaunchIndex":0,"instanceType":"t3.micro","placement":{"availabilityZone":"eu-west-1a","tenancy":"default"}},{"instanceId":"i-0a1b2c3d4e5f60002","imageId":"ami-0abcdef1234567890","instanceState":{"code":0,"name":"pending"},"privateDnsName":"ip-10-0-1-18.eu-west-1.compute.internal","amiLaunchIndex":1,"instanceType":"t3.micro","placement":{"availabilityZone":"eu-west-1a","tenancy":"default"}}]}},"requestID":"c0a8e9f4-3b1d-4e2a-9f0c-6d5e4b3a2c1d","eventID":"1f6a2c1e-0d5b-4a8e-9c3f-7b2d1e0a9f01","readOnly":false,"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"ec2.eu-west-1.amazonaws.com"}})";

constexpr char kAssumeRole[] =
    R"({"eventVersion":"1.09","userIdentity":{"type":"IAMUser","principalId":"AIDAJ45Q7YFFAREXAMPLE","arn":"arn:aws:iam::111122223333:user/ci","accountId":"111122223333","accessKeyId":"AKIAIOSFODNN7EXAMPLE","userName":"ci"},"eventTime":"2026-11-30T12:00:00.512Z","eventSource":"sts.amazonaws.com","eventName":"AssumeRole","awsRegion":"eu-west-1","sourceIPAddress":"198.51.100.24","userAgent":"aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5","requestParameters":{"roleArn":"arn:aws:iam::111122223333:role/DeployRole","roleSessionName":"ci-run-8812","durationSeconds":3600},"responseElements":{"credentials":{"accessKeyId":"ASIAIOSFODNN7EXAMPLE","sessionToken":"IQoJb3JpZ2luX2VjEXAMPLE","expiration":"Nov 30, 2026, 1:00:00 PM"},"assumedRoleUser":{"assumedRoleId":"AROAIDPPEZS35WEXAMPLE:ci-run-8812","arn":"arn:aws:sts::111122223333:assumed-role/DeployRole/ci-run-8812"}},"requestID":"c0a8e9f4-3b1d-4e2a-9f0c-6d5e4b3a2c1d","eventID":"8b3c9d8f-7e2c-4bf3-8d0a-4c9e8f7a6b21","readOnly":true,"resources":[{"accountId":"111122223333","type":"AWS::IAM::Role","ARN":"arn:aws:iam::111122223333:role/DeployRole"}],"eventType":"AwsApiCall","managementEvent":true,"recipientAccountId":"111122223333","eventCategory":"Management","tlsDetails":{"tlsVersion":"TLSv1.3","cipherSuite":"TLS_AES_128_GCM_SHA256","clientProvidedHostHeader":"sts.eu-west-1.amazonaws.com"}})";

struct Parsed {
  std::vector<std::string> raw;
  std::vector<simdjson::dom::parser> parsers;
  std::vector<simdjson::dom::element> records;
};

void Parse(Parsed* p) {
  p->raw = {kRunInstances, kAssumeRole, kAssumeRole, kAssumeRole};
  p->parsers.resize(p->raw.size());
  for (size_t i = 0; i < p->raw.size(); ++i) {
    p->records.push_back(p->parsers[i].parse(p->raw[i]).value());
  }
}

// Mapping alone: what the adapter adds to reading and sending.
void BM_Map(benchmark::State& state) {
  Parsed p;
  Parse(&p);
  std::unique_ptr<Mapper> mapper = NewCloudTrailMapper({});
  for (auto _ : state) {
    for (size_t i = 0; i < p.records.size(); ++i) {
      Mapping m = mapper->Map(p.records[i], p.raw[i]);
      benchmark::DoNotOptimize(m);
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(p.records.size()));
}
BENCHMARK(BM_Map);

// Parsing, mapping and serializing each event: the client's share of
// `infratrail ingest cloudtrail` per record.
void BM_ParseMapSerialize(benchmark::State& state) {
  const std::vector<std::string> raw = {kRunInstances, kAssumeRole, kAssumeRole, kAssumeRole};
  simdjson::dom::parser parser;
  std::unique_ptr<Mapper> mapper = NewCloudTrailMapper({});
  for (auto _ : state) {
    for (const std::string& r : raw) {
      simdjson::dom::element e = parser.parse(r).value();
      for (const MappedItem& item : mapper->Map(e, r)) {
        std::string bytes = SerializeEvent(item.event);
        benchmark::DoNotOptimize(bytes);
      }
    }
  }
  state.SetItemsProcessed(state.iterations() * static_cast<int64_t>(raw.size()));
}
BENCHMARK(BM_ParseMapSerialize);

}  // namespace
}  // namespace infratrail::ingest

BENCHMARK_MAIN();
