"""The Alibaba Cloud regions that the emulated ECS offers.

Region IDs, names and endpoints are those of the public cloud. The zone letters and the
instance ID prefixes are modelled on the ones the real service uses. The emulator only
needs them to differ by region, so that an instance ID shows the instance's region.
"""

from __future__ import annotations

from dataclasses import dataclass

# ECS in these regions is served by the shared endpoint; the others have their own.
_SHARED_ENDPOINT_REGIONS = frozenset(
    {
        "cn-qingdao",
        "cn-beijing",
        "cn-hangzhou",
        "cn-shanghai",
        "cn-shenzhen",
        "cn-hongkong",
        "ap-southeast-1",
        "us-east-1",
        "us-west-1",
    }
)


@dataclass(frozen=True)
class Region:
    region_id: str
    name_zh: str  # LocalName for AcceptLanguage zh-CN, the API's default
    name_en: str  # LocalName for en-US and ja
    zone_letters: str  # "bghijk" -> cn-hangzhou-b, cn-hangzhou-g, ...
    instance_id_prefix: str  # "bp1" -> i-bp1...

    @property
    def endpoint(self) -> str:
        if self.region_id in _SHARED_ENDPOINT_REGIONS:
            return "ecs.aliyuncs.com"
        return f"ecs.{self.region_id}.aliyuncs.com"

    @property
    def zone_ids(self) -> list[str]:
        return [f"{self.region_id}-{letter}" for letter in self.zone_letters]

    def local_name(self, accept_language: str) -> str:
        return self.name_zh if accept_language == "zh-CN" else self.name_en


REGIONS: dict[str, Region] = {
    region.region_id: region
    for region in (
        Region("cn-qingdao", "华北1（青岛）", "China (Qingdao)", "bc", "m5e"),
        Region("cn-beijing", "华北2（北京）", "China (Beijing)", "cfghijkl", "2ze"),
        Region(
            "cn-zhangjiakou", "华北3（张家口）", "China (Zhangjiakou)", "abc", "8vb"
        ),
        Region("cn-huhehaote", "华北5（呼和浩特）", "China (Hohhot)", "ab", "hp3"),
        Region("cn-wulanchabu", "华北6（乌兰察布）", "China (Ulanqab)", "abc", "0jl"),
        Region("cn-hangzhou", "华东1（杭州）", "China (Hangzhou)", "bghijk", "bp1"),
        Region("cn-shanghai", "华东2（上海）", "China (Shanghai)", "befglmn", "uf6"),
        Region("cn-shenzhen", "华南1（深圳）", "China (Shenzhen)", "acdef", "wz9"),
        Region("cn-heyuan", "华南2（河源）", "China (Heyuan)", "ab", "f8z"),
        Region("cn-guangzhou", "华南3（广州）", "China (Guangzhou)", "ab", "7xv"),
        Region("cn-chengdu", "西南1（成都）", "China (Chengdu)", "ab", "2vc"),
        Region("cn-hongkong", "中国香港", "China (Hong Kong)", "bcd", "j6c"),
        Region("ap-northeast-1", "日本（东京）", "Japan (Tokyo)", "abc", "6we"),
        Region("ap-northeast-2", "韩国（首尔）", "South Korea (Seoul)", "a", "mj7"),
        Region("ap-southeast-1", "新加坡", "Singapore", "abc", "t4n"),
        Region(
            "ap-southeast-3",
            "马来西亚（吉隆坡）",
            "Malaysia (Kuala Lumpur)",
            "ab",
            "8ps",
        ),
        Region(
            "ap-southeast-5",
            "印度尼西亚（雅加达）",
            "Indonesia (Jakarta)",
            "abc",
            "k1a",
        ),
        Region(
            "ap-southeast-6", "菲律宾（马尼拉）", "Philippines (Manila)", "ab", "5ts"
        ),
        Region("ap-southeast-7", "泰国（曼谷）", "Thailand (Bangkok)", "a", "0jo"),
        Region("us-east-1", "美国（弗吉尼亚）", "US (Virginia)", "ab", "0xi"),
        Region("us-west-1", "美国（硅谷）", "US (Silicon Valley)", "ab", "rj9"),
        Region("eu-west-1", "英国（伦敦）", "UK (London)", "ab", "d7o"),
        Region("eu-central-1", "德国（法兰克福）", "Germany (Frankfurt)", "abc", "gw8"),
        Region("me-east-1", "阿联酋（迪拜）", "UAE (Dubai)", "a", "eb3"),
        Region("me-central-1", "沙特（利雅得）", "Saudi Arabia (Riyadh)", "ab", "l4v"),
    )
}
