# Unit tests of the server library, beside the code (STYLE.md habit 11).
# Included from server/CMakeLists.txt.
foreach(t storage_conformance_test rocksdb_layout_test tree_reader_test sequencer_test
    checkpoint_signer_test log_test export_test tile_cache_test tile_http_test tile_http_server_test
    disk_reserve_test checkpoint_publisher_test witness_collector_test)
  add_executable(${t} ${t}.cc)
  target_link_libraries(${t} PRIVATE infratrail_server_lib GTest::gtest_main GTest::gmock)
  gtest_discover_tests(${t} DISCOVERY_TIMEOUT 60)
endforeach()
target_link_libraries(storage_conformance_test PRIVATE infratrail_pg_testing)
add_executable(postgres_storage_test postgres_storage_test.cc)
target_link_libraries(postgres_storage_test PRIVATE infratrail_server_lib infratrail_pg_testing
  GTest::gtest_main GTest::gmock)
gtest_discover_tests(postgres_storage_test DISCOVERY_TIMEOUT 60)

add_executable(writer_auth_test writer_auth_test.cc)
target_link_libraries(writer_auth_test PRIVATE infratrail_server_lib GTest::gtest_main)
gtest_discover_tests(writer_auth_test DISCOVERY_TIMEOUT 60)
