# The auditor's clone of the IaC repository, read with libgit2, for the
# policy's `source_in_repo` (git_repo_checker.h). Included from this
# directory's CMakeLists.txt.
add_library(infratrail_policy_git STATIC
  ${CMAKE_CURRENT_SOURCE_DIR}/git_repo_checker.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/git_tree_search.cc
  ${CMAKE_CURRENT_SOURCE_DIR}/git_util.cc
)
target_include_directories(infratrail_policy_git PUBLIC ${PROJECT_SOURCE_DIR})
target_link_libraries(infratrail_policy_git PUBLIC
  PkgConfig::LIBGIT2 infratrail_core infratrail_proto
  absl::status absl::statusor absl::strings absl::time absl::flat_hash_map absl::flat_hash_set)

# Builds its repositories with the git command line.
add_executable(git_repo_checker_test ${CMAKE_CURRENT_SOURCE_DIR}/git_repo_checker_test.cc)
target_link_libraries(git_repo_checker_test PRIVATE infratrail_policy_git GTest::gtest_main)
gtest_discover_tests(git_repo_checker_test DISCOVERY_TIMEOUT 60)
