"""Interface to the reference-price channels (财产处置参考价, J10): the judicial online inquiry platforms
(司法网络询价平台), agencies for targeted inquiry (定向询价) and appraisal institutions (评估机构).

The handlers apply J10's rules (the average of the platforms, the 3- and 30-day report periods, one year of
validity); the adapter only asks and reports what each channel answered.
"""
from __future__ import annotations

from typing import Protocol

from handlers.base import HandlerContext

PLATFORMS = {                      # the SPC's list of online inquiry platforms (2018) [M: check the current list]
    "taobao": "淘宝网", "jd": "京东大数据", "icbc": "工商银行融e购",
}
APPRAISERS = ("四川天诚房地产土地资产评估有限公司", "四川中衡资产评估有限公司", "成都华信资产评估事务所")  # demo


class ValuationSystem(Protocol):
    def online_inquiry(self, ctx: HandlerContext, asset_id: str) -> dict:
        """Ask every listed platform at once (J10 Art 7): ``{"inquiry_id", "results": [{"platform", "price",
        "report_no"}]}``; refuses an asset that needs inspection (then appraise it)."""

    def targeted_inquiry(self, ctx: HandlerContext, asset_id: str, agency: str | None) -> dict:
        """Ask the agency holding a tax base or government price (J10 Art 5): ``{"inquiry_id", "agency",
        "price", "basis"}``; refuses an asset without one."""

    def appraisal(self, ctx: HandlerContext, asset_id: str, appraiser: str | None) -> dict:
        """Commission an appraisal (J10 Art 14); without ``appraiser`` one is drawn by lot (摇号, Art 16):
        ``{"appraisal_id", "appraiser", "appraised_value", "report_no"}``."""
