"""The enforcement handlers (执行业务), one subpackage per external system. Importing this module registers
them all in ``handlers.REGISTRY``, next to the built-ins of ``handlers.builtin``:

=====================  ==========================================================================
``handlers.assets``     asset.search, asset.control, asset.release, asset.renew   (网络执行查控)
``handlers.valuation``  valuation.online_inquiry, valuation.targeted_inquiry, valuation.appraisal
``handlers.auction``    auction.publish, auction.result                           (网络司法拍卖)
``handlers.credit``     credit.restrict_consumption, credit.lift_restriction, credit.blacklist,
                        credit.delist                                             (限制消费, 失信)
``handlers.delivery``   party.notify                                              (送达)
``handlers.ledger``     ledger.receive, ledger.payout, ledger.balance             (执行款)
``handlers.documents``  document.generate                                         (法律文书)
=====================  ==========================================================================

Each system's adapter is chosen by ``handlers.config`` (default: the deterministic sandbox).
"""
from handlers import assets, auction, credit, delivery, documents, ledger, valuation  # noqa: F401
