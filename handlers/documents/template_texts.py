"""The wording of each template, paragraph by paragraph, as (style, text) with Jinja fields for docxtpl.

Styles (see make_templates.py): ``court``/``title`` centred headings, ``number`` the case number on the right,
``body`` an indented paragraph, ``flush`` unindented, ``sign`` right-aligned signature lines, ``tag`` a docxtpl
paragraph tag (``{%p ... %}``) whose paragraph disappears when rendered. Articles cited use the 2023 CPL numbers.
"""
from __future__ import annotations

HEAD = [("court", "{{ court_name }}"), ("title", "{{ title }}"), ("number", "{{ case_no }}")]
TAIL = [("sign", "{{ issued_on }}"), ("sign", "（院印）")]
PARTY_LINE = "被执行人：{{ debtor_name }}{% if debtor_id %}，{{ id_label }}：{{ debtor_id }}{% endif %}。"

TEXTS: dict[str, list[tuple[str, str]]] = {
    "enforcement_notice": HEAD + [
        ("flush", "{{ debtor_name }}："),
        ("body", "申请执行人{{ applicant_name }}与你（单位）纠纷一案，{{ basis }}已经发生法律效力。申请执行人"
                 "{{ applicant_name }}向本院申请强制执行，本院依法立案执行。依照《中华人民共和国民事诉讼法》"
                 "第二百五十一条、第二百六十四条的规定，责令你（单位）自收到本通知之日起{{ deadline_days }}日内"
                 "履行下列义务："),
        ("body", "一、向申请执行人{{ applicant_name }}支付{{ amount }}元；"),
        ("body", "二、加倍支付迟延履行期间的债务利息（或者支付迟延履行金）；"),
        ("body", "三、负担本案申请执行费。"),
        ("body", "逾期不履行的，本院将依法强制执行，并可依照《最高人民法院关于公布失信被执行人名单信息的若干规定》"
                 "将你（单位）纳入失信被执行人名单，依法采取限制消费等措施。"),
        ("body", "特此通知。"),
    ] + TAIL,
    "asset_report_order": HEAD + [
        ("flush", "{{ debtor_name }}："),
        ("body", "本院在执行申请执行人{{ applicant_name }}与被执行人{{ debtor_name }}纠纷一案（执行依据：{{ basis }}）"
                 "中，依照《中华人民共和国民事诉讼法》第二百五十二条和《最高人民法院关于民事执行中财产调查若干问题的"
                 "规定》的规定，责令你（单位）在收到本令后{{ report_days }}日内，如实向本院报告当前以及收到执行通知"
                 "之日前一年的财产情况："),
        ("body", "一、收入、银行存款、现金、理财产品、有价证券；"),
        ("body", "二、土地使用权、房屋等不动产；"),
        ("body", "三、交通运输工具、机器设备、产品、原材料等动产；"),
        ("body", "四、债权、股权、投资权益、基金份额、信托受益权、知识产权等财产性权利；"),
        ("body", "五、其他应当报告的财产。以上财产设有担保物权等权利负担，或者存在共有、权属争议等情形的，应当一并报告。"),
        ("body", "报告财产后，财产情况发生变动，影响申请执行人债权实现的，应当自财产变动之日起十日内向本院补充报告。"),
        ("body", "拒绝报告或者虚假报告的，本院将根据情节轻重予以罚款、拘留；构成犯罪的，依法追究刑事责任，"
                 "并将你（单位）纳入失信被执行人名单。"),
    ] + TAIL,
    "restriction_order": HEAD + [
        ("flush", "被限制消费人：{{ debtor_name }}，{{ id_label }}：{{ debtor_id }}。"),
        ("tag", "{%p if legal_representative %}"),
        ("flush", "法定代表人：{{ legal_representative }}。"),
        ("tag", "{%p endif %}"),
        ("body", "本院在执行申请执行人{{ applicant_name }}与被执行人{{ debtor_name }}纠纷一案（执行依据：{{ basis }}）"
                 "中，因你（单位）未按执行通知书指定的期间履行生效法律文书确定的给付义务，依照《最高人民法院关于"
                 "限制被执行人高消费及有关消费的若干规定》第一条、第三条的规定，对你（单位）采取限制消费措施，"
                 "不得实施以下高消费及非生活和工作必需的消费行为："),
        ("tag", "{%p for item in restrictions %}"),
        ("body", "（{{ loop.index }}）{{ item }}{{ \"。\" if loop.last else \"；\" }}"),
        ("tag", "{%p endfor %}"),
        ("body", "{% if legal_representative %}被执行人为单位的，被采取限制消费措施后，被执行人及其法定代表人、主要负责人、"
                 "影响债务履行的直接责任人员、实际控制人不得实施前款规定的行为。{% endif %}因私消费以个人财产实施"
                 "前述行为的，可以向本院提出申请，经审查属实的，应予准许。"),
        ("body", "违反本限制消费令的，本院将依法予以罚款、拘留；情节严重，构成犯罪的，依法追究刑事责任。"),
    ] + TAIL,
    "final_ruling": HEAD + [
        ("flush", "申请执行人：{{ applicant_name }}。"),
        ("flush", PARTY_LINE),
        ("body", "申请执行人{{ applicant_name }}与被执行人{{ debtor_name }}纠纷一案，{{ basis }}已经发生法律效力。"
                 "申请执行人向本院申请强制执行，执行标的为{{ amount }}元。"),
        ("body", "本案执行过程中，本院依法向被执行人发出执行通知书、报告财产令，并采取了以下执行措施：{{ measures_taken }}。"
                 "经穷尽财产调查措施，{{ assets_found }}。本案已执行到位{{ recovered }}元，尚有{{ unpaid }}元未履行。"
                 "本院已对被执行人采取限制消费措施{% if blacklisted %}，并将其纳入失信被执行人名单{% endif %}。"),
        ("body", "本院已将本案执行情况、采取的财产调查措施、被执行人的财产情况、终结本次执行程序的依据及法律后果等"
                 "告知申请执行人，并听取了申请执行人的意见。"),
        ("body", "依照《最高人民法院关于适用〈中华人民共和国民事诉讼法〉的解释》第五百一十七条的规定，裁定如下："),
        ("body", "终结本次执行程序。"),
        ("body", "申请执行人发现被执行人有可供执行财产的，可以再次申请执行，再次申请不受申请执行时效期间的限制。"
                 "被执行人负有继续向申请执行人履行债务的义务。"),
        ("body", "本裁定送达后即发生法律效力。"),
    ] + TAIL,
    "closing_notice": HEAD + [
        ("flush", "{{ applicant_name }}："),
        ("body", "你（单位）与被执行人{{ debtor_name }}纠纷一案，{{ basis }}已经发生法律效力。你（单位）申请强制执行后，"
                 "本院依法立案执行。本案共执行到位{{ recovered }}元。"),
        ("body", "本案已以“{{ closing_mode_cn }}”方式结案。"),
        ("body", "特此通知。"),
    ] + TAIL,
    "transfer_ruling": HEAD + [
        ("flush", "申请执行人：{{ applicant_name }}。"),
        ("flush", PARTY_LINE),
        ("flush", "{{ '承受人' if disposal == 'in_lieu' else '买受人' }}：{{ buyer }}。"),
        ("body", "本院在执行申请执行人{{ applicant_name }}与被执行人{{ debtor_name }}纠纷一案"
                 "{% if basis %}（执行依据：{{ basis }}）{% endif %}中，"
                 "{% if disposal == 'in_lieu' %}依法拍卖被执行人的下列财产：{{ asset_description }}，拍卖未能成交。"
                 "申请执行人{{ buyer }}同意以该次拍卖的保留价{{ price }}元接受该财产抵偿债务。"
                 "{% else %}依法通过网络司法拍卖平台{{ '变卖' if disposal == 'sale' else '公开拍卖' }}被执行人的下列财产："
                 "{{ asset_description }}。买受人{{ buyer }}以{{ price }}元{{ '买受' if disposal == 'sale' else '竞得' }}，"
                 "并已缴清全部价款。{% endif %}"),
        ("body", "依照《中华人民共和国民事诉讼法》第二百五十八条，《最高人民法院关于人民法院民事执行中拍卖、变卖财产的规定》"
                 "{{ '第十六条、' if disposal == 'in_lieu' else '' }}第二十条、第二十六条的规定，裁定如下："),
        ("body", "一、上述财产的所有权或者其他财产权自本裁定送达{{ '承受人' if disposal == 'in_lieu' else '买受人' }}"
                 "{{ buyer }}时起转移；"),
        ("body", "二、{% if disposal == 'in_lieu' %}上述财产作价{{ price }}元抵偿被执行人应付申请执行人的债务；"
                 "{% else %}解除对上述财产的查封、扣押、冻结；{% endif %}"),
        ("body", "三、{{ '承受人' if disposal == 'in_lieu' else '买受人' }}可以持本裁定书到登记机构办理相关产权过户登记手续。"),
        ("body", "本裁定送达后即发生法律效力。"),
    ] + TAIL,
}
