"""Hypothesis strategies for provincial and national dossier records.

Provincial values stay inside the national rules (lengths, code shapes) because the round-trip
properties are about loss, not about refusal; refusals have hand-written tests. National records
are built as wire dicts, sometimes omitting optional keys and sometimes sending "" for none, then
validated, so both spellings of "none" are exercised. Numbers are canonical (no leading zeros):
"075000" and "75000" are the same amount to the gateway, so only the canonical one round-trips.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone
from typing import Any

from hypothesis import strategies as st

from gateway.schemas import (
    VIETNAM_TZ,
    Applicant,
    ApplicantType,
    AttachedPaper,
    Channel,
    Document,
    Dossier,
    DossierRecord,
    DossierStatus,
    Fee,
    FeeCollection,
    FeeType,
    IdentifierType,
    OnlinePayment,
    PersonalIdentifier,
    ProgressRecord,
    ProgressStep,
    ResultDelivery,
    ResultPaper,
    Sex,
    Supplement,
)
from gateway.schemas.identifiers import BIRTH_PROVINCE_CODES

# --- scalars -----------------------------------------------------------------------------------

# Letters a Vietnamese record really carries, plus punctuation and a few awkward characters.
_VI = "aăâbcdđeêghiklmnoôơpqrstuưvxyàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ"
_ALPHABET = _VI + _VI.upper() + "0123456789 .,;:-/()'\"&%²\t"

texts = st.text(alphabet=_ALPHABET, min_size=1, max_size=40)
"""A required non-empty text."""

opt_texts = st.none() | texts
"""An optional text: None or non-empty ("" and None are the same on the wire)."""

codes = st.from_regex(r"[0-9A-Z][0-9A-Za-z.\-]{0,19}", fullmatch=True)
"""A code from a list we do not hold (procedure, field, database codes)."""

OFFSETS = st.one_of(
    st.sampled_from([UTC, VIETNAM_TZ, timezone(timedelta(hours=-5))]),
    st.integers(min_value=-12 * 60, max_value=14 * 60).map(
        lambda m: timezone(timedelta(minutes=m))
    ),
)

aware_datetimes = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2099, 12, 31), timezones=OFFSETS
).map(lambda dt: dt.replace(microsecond=0))
"""Second-precision aware datetimes in varied offsets."""

opt_datetimes = st.none() | aware_datetimes


def _bools() -> st.SearchStrategy[bool | None]:
    return st.none() | st.booleans()


@st.composite
def dossier_numbers(draw: st.DrawFn) -> str:
    """``<agency code>-<YYMMDD>-<NNNN>`` with a real day and a non-zero sequence."""
    agency = draw(st.from_regex(r"[0-9A-Z]{2,3}(\.[0-9A-Z]{2,3}){3}", fullmatch=True))
    day = draw(st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)))
    seq = draw(st.integers(min_value=1, max_value=9999))
    return f"{agency}-{day:%y%m%d}-{seq:04d}"


def personal_id(draw: st.DrawFn, birth: date, sex: Sex) -> str:
    """A 12-digit personal ID whose century/sex digit and year agree with ``birth`` and ``sex``."""
    province = draw(st.sampled_from(sorted(BIRTH_PROVINCE_CODES)))
    digit = (birth.year - 1900) // 100 * 2 + (1 if sex is Sex.FEMALE else 0)
    tail = draw(st.integers(min_value=0, max_value=999_999))
    return f"{province}{digit}{birth.year % 100:02d}{tail:06d}"


# --- provincial --------------------------------------------------------------------------------


@st.composite
def _identifiers(draw: st.DrawFn, birth: date, sex: Sex) -> PersonalIdentifier:
    if draw(st.booleans()):
        return PersonalIdentifier(number=personal_id(draw, birth, sex))
    number = draw(st.from_regex(r"[0-9]{9}", fullmatch=True))
    return PersonalIdentifier(kind=IdentifierType.OLD_ID_CARD, number=number)


@st.composite
def applicants(draw: st.DrawFn) -> Applicant:
    """An applicant whose personal IDs agree with the stated birth date and sex."""
    birth = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)))
    sex = draw(st.sampled_from(list(Sex)))
    identifiers = draw(st.lists(_identifiers(birth, sex), max_size=2))
    return Applicant(
        kind=draw(st.sampled_from(list(ApplicantType))),
        name=draw(opt_texts),
        paper_number=identifiers[0].number if identifiers else draw(texts),
        account_id=draw(opt_texts),
        email=draw(opt_texts),
        phone=draw(opt_texts),
        fax=draw(opt_texts),
        other_info=draw(opt_texts),
        birth_date=draw(st.none() | st.just(birth)),
        sex=draw(st.none() | st.just(sex)),
        identifiers=identifiers,
        verified_with_vneid=draw(_bools()),
    )


documents = st.builds(
    Document,
    name=texts,
    file_id=opt_texts,
    component_code=opt_texts,
    url=opt_texts,
    deleted=st.booleans(),
    digitised=_bools(),
    reused=_bools(),
    from_national_store=_bools(),
    replacing_result_code=opt_texts,
)

fees = st.builds(
    Fee,
    name=texts,
    code=opt_texts,
    collection=st.sampled_from(list(FeeCollection)),
    amount=st.integers(min_value=0, max_value=10**12),
    kind=st.sampled_from(list(FeeType)),
)

attached_papers = st.builds(
    AttachedPaper,
    name=texts,
    quantity=st.integers(min_value=0, max_value=999_999),
    kind=opt_texts,
)

supplements = st.builds(
    Supplement,
    supplement_id=texts,
    content=texts,
    requested_at=aware_datetimes,
    requested_by=opt_texts,
    received_by=opt_texts,
    reception_info=opt_texts,
    received_at=opt_datetimes,
    status=opt_texts,
    documents=st.lists(documents, max_size=2),
    fees=st.lists(fees, max_size=2),
    previous_due_at=opt_datetimes,
    new_due_at=opt_datetimes,
)

result_papers = st.builds(
    ResultPaper,
    name=texts,
    component_code=opt_texts,
    paper_id=opt_texts,
    url=opt_texts,
    result_code=opt_texts,
)


@st.composite
def dossiers(draw: st.DrawFn) -> Dossier:
    """A provincial dossier within the national rules, datetimes in varied offsets."""
    received = draw(aware_datetimes)
    due = (received + timedelta(seconds=draw(st.integers(0, 400 * 86400)))).astimezone(
        draw(OFFSETS)
    )
    return Dossier(
        dossier_no=draw(dossier_numbers()),
        procedure_code=draw(codes),
        procedure_name=draw(texts),
        field_code=draw(codes),
        field_name=draw(texts),
        channel=draw(st.sampled_from(list(Channel))),
        receipt_no=draw(opt_texts),
        applicant=draw(applicants()),
        summary=draw(texts),
        received_at=received,
        due_at=due,
        status=draw(st.sampled_from(list(DossierStatus))),
        returned_at=draw(opt_datetimes),
        return_info=draw(opt_texts),
        result_delivery=draw(st.sampled_from(list(ResultDelivery))),
        finished_at=draw(opt_datetimes),
        processing_unit=draw(texts),
        note=draw(opt_texts),
        submission_place=draw(opt_texts),
        has_digitised_components=draw(_bools()),
        online_payment=draw(st.none() | st.sampled_from(list(OnlinePayment))),
        rejected_at=draw(opt_datetimes),
        submitted_at=draw(opt_datetimes),
        connected_databases=draw(st.lists(codes, max_size=2)),
        documents=draw(st.lists(documents, max_size=3)),
        fees=draw(st.lists(fees, max_size=2)),
        attached_papers=draw(st.lists(attached_papers, max_size=2)),
        supplements=draw(st.lists(supplements, max_size=2)),
        results=draw(st.lists(result_papers, max_size=2)),
    )


progress_steps = st.builds(
    ProgressStep,
    dossier_no=dossier_numbers(),
    handler=st.text(alphabet=_ALPHABET, min_size=1, max_size=50),
    handler_title=opt_texts,
    handled_at=aware_datetimes,
    department=opt_texts,
    content=texts,
    status=st.sampled_from(list(DossierStatus)),
    started_at=opt_datetimes,
    statutory_end_at=opt_datetimes,
)


# --- national ----------------------------------------------------------------------------------

_ABSENT = object()

wire_times = aware_datetimes.map(lambda dt: dt.astimezone(VIETNAM_TZ).strftime("%Y%m%d%H%M%S"))
"""A real national timestamp ``yyyyMMddHHmmss``."""


def _put(draw: st.DrawFn, out: dict[str, Any], key: str, values: st.SearchStrategy[Any]) -> None:
    """Set an optional national key: left out, sent as "" (none), or given a value."""
    choice = draw(st.sampled_from(["absent", "empty", "value"]))
    if choice == "empty":
        out[key] = ""
    elif choice == "value":
        out[key] = draw(values)


def _flags() -> st.SearchStrategy[str]:
    return st.sampled_from(["0", "1"])


@st.composite
def national_documents(draw: st.DrawFn) -> dict[str, Any]:
    """A ``TaiLieuNop`` entry as wire strings."""
    out: dict[str, Any] = {"TenTepDinhKem": draw(texts)}
    if draw(st.booleans()):
        out["IsDeleted"] = draw(st.sampled_from(["True", "False"]))
    for key in ("TepDinhKemId", "MaThanhPhanHoSo", "DuongDanTaiTepTin", "MaKetQuaThayThe"):
        _put(draw, out, key, texts)
    for key in ("DuocSoHoa", "DuocTaiSuDung", "DuocLayTuKhoDMQG"):
        _put(draw, out, key, _flags())
    return out


@st.composite
def national_fees(draw: st.DrawFn) -> dict[str, Any]:
    """A ``DanhSachLePhi`` entry as wire strings (canonical amount)."""
    out: dict[str, Any] = {
        "TenPhiLePhi": draw(texts),
        "HinhThucThu": draw(st.sampled_from([c.value for c in FeeCollection])),
        "Gia": str(draw(st.integers(min_value=0, max_value=10**12))),
        "LoaiPhiLePhi": draw(st.sampled_from([c.value for c in FeeType])),
    }
    _put(draw, out, "MaPhiLePhi", texts)
    return out


@st.composite
def national_supplements(draw: st.DrawFn) -> dict[str, Any]:
    """A ``DanhSachHoSoBoSung`` entry as wire strings."""
    out: dict[str, Any] = {
        "HoSoBoSungId": draw(texts),
        "NoiDungBoSung": draw(texts),
        "NgayBoSung": draw(wire_times),
        "DanhSachGiayToBoSung": draw(st.lists(national_documents(), max_size=2)),
        "DanhSachLePhiBoSung": draw(st.lists(national_fees(), max_size=2)),
    }
    for key in ("NguoiYeuCauBoSung", "NguoiTiepNhanBoSung", "ThongTinTiepNhan", "TrangThaiBoSung"):
        _put(draw, out, key, texts)
    for key in ("NgayTiepNhanBoSung", "NgayHenTraTruoc", "NgayHenTraMoi"):
        _put(draw, out, key, wire_times)
    return out


@st.composite
def national_identifiers(draw: st.DrawFn) -> dict[str, str]:
    """A ``DinhDanhCHS`` entry: a valid 12-digit personal ID or a 9-digit old ID card."""
    if draw(st.booleans()):
        birth = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)))
        number = personal_id(draw, birth, draw(st.sampled_from(list(Sex))))
        return {"LoaiDinhDanh": "1", "SoDinhDanh": number}
    return {"LoaiDinhDanh": "2", "SoDinhDanh": draw(st.from_regex(r"[0-9]{9}", fullmatch=True))}


_attachments = st.lists(st.tuples(texts, st.integers(min_value=0, max_value=999_999)), max_size=2)


@st.composite
def national_dossier_dicts(draw: st.DrawFn) -> dict[str, Any]:
    """A ``DongBoHoSoMC`` record as the wire dict a provincial system would send."""
    received, due = sorted(draw(st.lists(wire_times, min_size=2, max_size=2)))
    out: dict[str, Any] = {
        "MaHoSo": draw(dossier_numbers()),
        "MaTTHC": draw(codes),
        "TenTTHC": draw(texts),
        "MaLinhVuc": draw(codes),
        "TenLinhVuc": draw(texts),
        "SoGiayToChuHoSo": draw(texts),
        "LoaiDoiTuong": draw(st.sampled_from([c.value for c in ApplicantType])),
        "TrichYeuHoSo": draw(texts),
        "NgayTiepNhan": received,
        "NgayHenTra": due,
        "TrangThaiHoSo": draw(st.sampled_from([c.value for c in DossierStatus])),
        "HinhThuc": draw(st.sampled_from([c.value for c in ResultDelivery])),
        "DonViXuLy": draw(texts),
        "DinhDanhCHS": draw(st.lists(national_identifiers(), max_size=2)),
        "DSKetNoiCSDL": [{"MaCSDL": c} for c in draw(st.lists(codes, max_size=2))],
        "TaiLieuNop": draw(st.lists(national_documents(), max_size=3)),
        "DanhSachLePhi": draw(st.lists(national_fees(), max_size=2)),
        "DanhSachTepDinhKemKhac": [
            {"TenGiayTo": name, "SoLuong": str(qty)} for name, qty in draw(_attachments)
        ],
        "DanhSachHoSoBoSung": draw(st.lists(national_supplements(), max_size=2)),
        "DanhSachGiayToKetQua": [{"TenGiayTo": n} for n in draw(st.lists(texts, max_size=2))],
    }
    _put(draw, out, "KenhThucHien", st.sampled_from([c.value for c in Channel]))
    for key in (
        "SoBienNhan",
        "ChuHoSo",
        "MaDoiTuong",
        "ThongTinKhac",
        "Email",
        "Fax",
        "SoDienThoai",
        "ThongTinTra",
        "GhiChu",
        "NoiNopHoSo",
    ):
        _put(draw, out, key, texts)
    for key in ("NgayTra", "NgayKetThucXuLy", "NgayTuChoi", "NgayNopHoSo"):
        _put(draw, out, key, wire_times)
    for key in ("HoSoCoThanhPhanSoHoa", "TaiKhoanDuocXacThucVoiVNeID"):
        _put(draw, out, key, _flags())
    _put(draw, out, "DuocThanhToanTrucTuyen", st.sampled_from([c.value for c in OnlinePayment]))
    if out["DanhSachTepDinhKemKhac"] and draw(st.booleans()):
        out["DanhSachTepDinhKemKhac"][0]["LoaiGiayTo"] = draw(texts)
    for result in out["DanhSachGiayToKetQua"]:
        for key in ("MaThanhPhanHoSo", "GiayToId", "DuongDanTepTinKetQua", "MaGiayToKetQua"):
            _put(draw, result, key, texts)
    return out


national_dossiers = national_dossier_dicts().map(DossierRecord.model_validate)
"""Validated national dossier records."""


@st.composite
def national_step_dicts(draw: st.DrawFn) -> dict[str, Any]:
    """A ``CapNhatTienDoHoSoMC`` record as wire strings."""
    out: dict[str, Any] = {
        "MaHoSo": draw(dossier_numbers()),
        "NguoiXuLy": draw(st.text(alphabet=_ALPHABET, min_size=1, max_size=50)),
        "ThoiDiemXuLy": draw(wire_times),
        "NoiDungXuLy": draw(texts),
        "TrangThai": draw(st.sampled_from([c.value for c in DossierStatus])),
    }
    for key in ("ChucDanh", "PhongBanXuLy"):
        _put(draw, out, key, texts)
    for key in ("NgayBatDau", "NgayKetThucTheoQuyDinh"):
        _put(draw, out, key, wire_times)
    return out


national_steps = national_step_dicts().map(ProgressRecord.model_validate)
"""Validated national progress records."""


# --- wire rules of the intake (issue 7) ----------------------------------------------------------

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
"""Any JSON value: what a hostile or confused sender may put where a field belongs."""

iso_datetimes_with_offset = aware_datetimes.map(lambda dt: dt.isoformat())
"""Native date-times as they must be sent: ISO 8601 text with an offset."""

not_iso_datetimes = st.one_of(
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    wire_times,
    aware_datetimes.map(lambda dt: dt.replace(tzinfo=None).isoformat()),
    st.text(max_size=30).filter(lambda t: "T" not in t),
)
"""Values a native date-time must refuse: epoch numbers, wire dates, naive or other text."""

out_of_window_wire_times = st.one_of(
    st.datetimes(min_value=datetime(1000, 1, 1), max_value=datetime(1989, 12, 31)),
    st.datetimes(min_value=datetime(2101, 1, 1), max_value=datetime(9999, 12, 31)),
).map(lambda dt: dt.strftime("%Y%m%d%H%M%S").rjust(14, "0"))
"""Real national timestamps outside the default plausibility window (1990–2100)."""

QUIRKS: dict[str, Any] = {
    "owner_paper_missing": lambda r, draw: (
        r.update({"SoGiayToChuHoSo": draw(st.sampled_from([None, ""]))})
        if draw(st.booleans())
        else r.pop("SoGiayToChuHoSo")
    ),
    "due_date_missing": lambda r, draw: r.update({"NgayHenTra": ""}),
    "code_outside_table": lambda r, draw: r.update(
        {"DuocThanhToanTrucTuyen": draw(st.sampled_from(["3", "4", "9", "11"]))}
    ),
    "number_for_text": lambda r, draw: r.update(
        {
            "DanhSachTepDinhKemKhac": [
                {"TenGiayTo": "Bản vẽ", "SoLuong": draw(st.integers(0, 999_999))}
            ]
        }
    ),
    "dossier_number_nonstandard": lambda r, draw: r.update(
        {"MaHoSo": r["MaHoSo"][:-4] + draw(st.from_regex(r"[0-9]{5}", fullmatch=True))}
    ),
}
"""How each record-level quirk looks on the wire, applied to a national dossier dict."""


@st.composite
def quirky_dossier_dicts(draw: st.DrawFn) -> tuple[dict[str, Any], frozenset[str]]:
    """A national dossier dict showing some quirks of real senders, and those quirks' names."""
    record = draw(national_dossier_dicts())
    # The quirks below own these fields: a clean value, or the quirk.
    record["SoGiayToChuHoSo"] = "001186012345"
    record.pop("DuocThanhToanTrucTuyen", None)
    record["DanhSachTepDinhKemKhac"] = []
    for doc in record["TaiLieuNop"]:
        doc.pop("DuocTaiSuDung", None)
    chosen = draw(st.sets(st.sampled_from(sorted(QUIRKS))))
    for name in sorted(chosen):
        QUIRKS[name](record, draw)
    return record, frozenset(chosen)
