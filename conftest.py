"""The workspace's one pytest configuration in code: hakiri-testing's shared fixtures
(``demo_api``, ``github_api``, ``postgres_server`` / ``postgres_db``, ``s3_server``,
``read_committed``, ``make_host``) for every test under this root.

pytest reads ``pytest_plugins`` only from the rootdir's conftest.py; hakiri-testing has no
``pytest11`` entry point, so installing it never changes another project's test run.
"""

pytest_plugins = ["hakiri.testing.fixtures"]
