"""The ack_clusters inventory plugin, run by ansible-inventory against the fake OpenAPI."""

import pytest

from fake_openapi import ACCESS_KEY_SECRET


@pytest.fixture
def clusters(fake):
    fake.add_cluster("c0prod", "shop-prod", tags={"env": "prod", "team": "shop"})
    fake.add_cluster("c1prod", "pay-prod", tags={"env": "prod", "team": "pay"}, version="1.28.9-aliyun.1")
    fake.add_cluster("c2dev", "shop-dev", tags={"env": "dev", "team": "shop"}, state="failed")
    fake.add_cluster("c3edge", "edge", cluster_type="ExternalKubernetes")
    fake.add_cluster("c4bj", "shop-prod-bj", region="cn-beijing", tags={"env": "prod"})
    return fake


def hosts(data):
    return sorted(data["_meta"]["hostvars"])


def members(data, group):
    return sorted(data.get(group, {}).get("hosts", []))


def test_every_cluster_of_the_region_over_two_pages(inventory, clusters):
    run = inventory(dict(region="cn-hangzhou", page_size=2))
    data = run.data

    assert run.rc == 0, run.output
    assert hosts(data) == ["edge", "pay-prod", "shop-dev", "shop-prod"]
    calls = clusters.calls("DescribeClustersV1")
    assert [(r.method, r.path) for r in calls] == [("GET", "/api/v1/clusters")] * 2
    assert [r.query["page_number"] for r in calls] == ["1", "2"]
    assert all(r.query["region_id"] == "cn-hangzhou" and r.query["page_size"] == "2" for r in calls)


def test_host_variables(inventory, clusters):
    data = inventory(dict(region="cn-hangzhou")).data

    assert data["_meta"]["hostvars"]["pay-prod"] == dict(
        cluster_id="c1prod", cluster_name="pay-prod", region="cn-hangzhou", state="running",
        cluster_type="ManagedKubernetes", cluster_spec="ack.pro.small", kubernetes_version="1.28.9-aliyun.1",
        cluster_tags={"env": "prod", "team": "pay"})


def test_tags_filter_keeps_clusters_with_all_of_them(inventory, clusters):
    data = inventory(dict(region="cn-hangzhou", tags={"env": "prod", "team": "shop"})).data
    assert hosts(data) == ["shop-prod"]


def test_exact_name_is_asked_of_the_api_and_checked_exactly(inventory, clusters):
    data = inventory(dict(region="cn-hangzhou", name="shop-prod")).data

    assert hosts(data) == ["shop-prod"]
    assert clusters.calls("DescribeClustersV1")[0].query["name"] == "shop-prod"


def test_name_regex_and_states(inventory, clusters):
    data = inventory(dict(region="cn-hangzhou", name_regex="^shop-", states=["running"])).data
    assert hosts(data) == ["shop-prod"]


def test_cluster_type_is_passed_to_the_api(inventory, clusters):
    data = inventory(dict(region="cn-hangzhou", cluster_type="ExternalKubernetes")).data

    assert hosts(data) == ["edge"]
    assert clusters.calls("DescribeClustersV1")[0].query["cluster_type"] == "ExternalKubernetes"


def test_hosts_named_by_cluster_id(inventory, clusters):
    data = inventory(dict(region="cn-beijing", hostname="cluster_id")).data
    assert hosts(data) == ["c4bj"]


def test_keyed_groups_and_compose(inventory, clusters):
    data = inventory(dict(
        region="cn-hangzhou",
        keyed_groups=[dict(key="cluster_tags.env | default('none')", prefix="env"),
                      dict(key="kubernetes_version.split('.')[1]", prefix="k8s_1")],
        groups=dict(broken="state != 'running'"),
        compose=dict(ansible_connection="'local'", kubeconfig_path="'~/.kube/' ~ cluster_id ~ '.yaml'"),
    )).data

    assert members(data, "env_prod") == ["pay-prod", "shop-prod"]
    assert members(data, "env_none") == ["edge"]
    assert members(data, "k8s_1_28") == ["pay-prod"]
    assert members(data, "broken") == ["shop-dev"]
    assert data["_meta"]["hostvars"]["edge"]["ansible_connection"] == "local"
    assert data["_meta"]["hostvars"]["edge"]["kubeconfig_path"] == "~/.kube/c3edge.yaml"


def test_a_repeated_name_falls_back_to_the_id(inventory, fake):
    fake.add_cluster("cA", "same")
    fake.add_cluster("cB", "same")

    run = inventory(dict(region="cn-hangzhou"))
    data = run.data

    assert hosts(data) == ["cB", "same"]
    assert "ACK cluster name 'same' is used more than once; naming cluster cB by its ID" in run.stderr


def test_permission_error_fails_the_source_with_a_clear_message(inventory, clusters):
    clusters.fail("DescribeClustersV1", 403, "Forbidden.RAM", "User not authorized to operate on the specified "
                  "resource.")

    run = inventory(dict(region="cn-hangzhou"))

    assert run.rc != 0
    request_id = clusters.requests[0].request_id
    assert ("DescribeClustersV1 for region 'cn-hangzhou' failed: Forbidden.RAM (HTTP 403): User not authorized to "
            "operate on the specified resource. Request ID: %s." % request_id) in " ".join(run.stderr.split())
    assert "cs:DescribeClustersV1" in run.stderr
    assert ACCESS_KEY_SECRET not in run.output


def test_throttled_page_is_retried(inventory, clusters):
    clusters.fail("DescribeClustersV1", 400, "Throttling.User", "Request was denied due to user flow control.")

    run = inventory(dict(region="cn-hangzhou", page_size=2))
    data = run.data

    assert run.rc == 0, run.output
    assert len(hosts(data)) == 4
    assert len(clusters.calls("DescribeClustersV1")) == 3


def test_bad_regex_is_named(inventory, clusters):
    run = inventory(dict(region="cn-hangzhou", name_regex="(unclosed"))

    assert run.rc != 0
    assert "name_regex: is not a valid regular expression" in run.stderr
    assert clusters.requests == []


def test_other_file_names_are_not_this_plugins(inventory, clusters):
    run = inventory(dict(region="cn-hangzhou"), file_name="clusters.yml")

    assert run.rc != 0
    assert clusters.requests == []
