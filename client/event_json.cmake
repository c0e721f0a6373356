# client/event_json.cmake: fast proto3-JSON parsing of InfraEvent lines for
# `infratrail add` (simdjson, falling back to protobuf), included from
# client/CMakeLists.txt.
add_library(infratrail_event_json STATIC ${CMAKE_CURRENT_SOURCE_DIR}/event_json.cc)
target_include_directories(infratrail_event_json PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(infratrail_event_json PUBLIC
  infratrail_proto protobuf::libprotobuf simdjson::simdjson absl::status absl::strings)

add_executable(event_json_test ${CMAKE_CURRENT_SOURCE_DIR}/event_json_test.cc)
target_link_libraries(event_json_test PRIVATE infratrail_event_json infratrail_client_events
  infratrail_event_validation
  GTest::gtest_main)
gtest_discover_tests(event_json_test DISCOVERY_TIMEOUT 60)

# Run by hand, never as a test: BM_Protobuf against BM_Fast on a typical line.
if(INFRATRAIL_BENCHMARKS)
  add_executable(event_json_bench ${CMAKE_CURRENT_SOURCE_DIR}/event_json_bench.cc)
  target_link_libraries(event_json_bench PRIVATE infratrail_event_json benchmark::benchmark)
endif()
