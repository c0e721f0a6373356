# client/events.cmake: event-side helpers with no network, included from
# client/CMakeLists.txt. Emitter signatures, events built from flags, and the
# progress line of `infratrail add`.
add_library(infratrail_client_events STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/emitter_signature.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/event_flags.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/progress.cc)
target_include_directories(infratrail_client_events PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(infratrail_client_events PUBLIC
  infratrail_core infratrail_proto infratrail_event_validation protobuf::libprotobuf
  absl::status absl::statusor absl::strings absl::str_format absl::span absl::time)

foreach(t emitter_signature_test event_flags_test progress_test)
  add_executable(${t} ${CMAKE_CURRENT_SOURCE_DIR}/${t}.cc)
  target_link_libraries(${t} PRIVATE infratrail_client_events infratrail_event_validation
    GTest::gtest_main)
  gtest_discover_tests(${t} DISCOVERY_TIMEOUT 60)
endforeach()
