"""National code tables (national-formats.md §2.4), one enum per table.

Every value is the string the national systems send (all scalars travel as strings). Where the
domain reference marks a meaning as uncertain, the enum says so; the wire value is what we
validate, the meaning is documentation.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "ApplicantType",
    "Channel",
    "DossierStatus",
    "FeeCollection",
    "FeeType",
    "Flag",
    "IdentifierType",
    "OnlinePayment",
    "ResultDelivery",
    "TextBool",
]


class DossierStatus(StrEnum):
    """``TrangThaiHoSo`` / ``TrangThai``: where a dossier stands.

    Terminal: REJECTED (3), WITHDRAWN (7), STOPPED (8), RETURNED (10).
    """

    REGISTERED = "1"
    """Mới đăng ký — submitted, not yet received."""
    RECEIVED = "2"
    """Được tiếp nhận — received by the one-stop desk."""
    REJECTED = "3"
    """Không được tiếp nhận — refused at reception (terminal)."""
    PROCESSING = "4"
    """Đang xử lý — in processing."""
    SUPPLEMENT_REQUESTED = "5"
    """Yêu cầu bổ sung giấy tờ — the applicant must supplement documents."""
    PAYMENT_REQUESTED = "6"
    """Yêu cầu thực hiện nghĩa vụ tài chính — the applicant must pay fees or taxes."""
    WITHDRAWN = "7"
    """Công dân yêu cầu rút hồ sơ — withdrawn by the applicant (terminal)."""
    STOPPED = "8"
    """Dừng xử lý — processing stopped (terminal)."""
    FINISHED = "9"
    """Đã xử lý xong — processing finished, result not yet handed over."""
    RETURNED = "10"
    """Đã trả kết quả — result returned to the applicant (terminal)."""

    @property
    def terminal(self) -> bool:
        """True for statuses after which nothing may follow."""
        return self in _TERMINAL


_TERMINAL = frozenset(
    {
        DossierStatus.REJECTED,
        DossierStatus.WITHDRAWN,
        DossierStatus.STOPPED,
        DossierStatus.RETURNED,
    }
)


class Channel(StrEnum):
    """``KenhThucHien``: how the dossier was submitted. A missing value counts as IN_PERSON."""

    IN_PERSON = "1"
    """Trực tiếp — at the one-stop desk."""
    ONLINE = "2"
    """Trực tuyến — online; counts towards the 766 online-dossier ratio."""
    POSTAL = "3"
    """Qua dịch vụ bưu chính công ích — through the public postal service."""


class ApplicantType(StrEnum):
    """``LoaiDoiTuong``: who applies. Only CITIZEN and ENTERPRISE are certain."""

    CITIZEN = "1"
    """Công dân — a person."""
    ENTERPRISE = "2"
    """Doanh nghiệp — a business."""
    STATE_AGENCY = "3"
    """Cơ quan nhà nước — a state agency (uncertain)."""
    OTHER_ORGANISATION = "4"
    """Tổ chức khác — another organisation (uncertain)."""


class ResultDelivery(StrEnum):
    """``HinhThuc``: how the result is handed over (meanings uncertain)."""

    AT_COUNTER = "0"
    """Tại bộ phận một cửa — at the counter."""
    BY_POST = "1"
    """Qua bưu chính — by post (uncertain)."""


class FeeCollection(StrEnum):
    """``HinhThucThu``: when a fee is collected."""

    ON_RECEPTION = "1"
    """Thu khi tiếp nhận — on reception."""
    ON_SUPPLEMENT = "2"
    """Thu khi bổ sung — on supplement."""
    ON_RESULT = "4"
    """Thu khi trả kết quả — on handing over the result."""


class FeeType(StrEnum):
    """``LoaiPhiLePhi``: kind of fee."""

    ORDINARY = "1"
    """Phí/lệ phí thông thường — ordinary fee."""
    APPRAISAL = "2"
    """Phí thẩm định, cấp phép — appraisal or licensing fee."""
    RENEWAL = "3"
    """Phí gia hạn — renewal fee."""


class IdentifierType(StrEnum):
    """``LoaiDinhDanh`` of ``DinhDanhCHS`` (uncertain)."""

    PERSONAL_ID = "1"
    """Số định danh cá nhân — 12-digit personal identification number."""
    OLD_ID_CARD = "2"
    """Chứng minh nhân dân — 9-digit old identity card (uncertain)."""


class OnlinePayment(StrEnum):
    """``DuocThanhToanTrucTuyen``: whether fees were paid online (766 online-payment ratio)."""

    NO = "0"
    """Không — not paid online."""
    NATIONAL_PLATFORM = "1"
    """Qua nền tảng thanh toán quốc gia (PayGov)."""
    OTHER_GATEWAY = "2"
    """Qua cổng thanh toán của bộ, ngành, địa phương."""


class Flag(StrEnum):
    """The national "0"/"1" booleans (``HoSoCoThanhPhanSoHoa``, ``DuocSoHoa`` …)."""

    NO = "0"
    """Không — false."""
    YES = "1"
    """Có — true."""

    @classmethod
    def of(cls, value: bool) -> Flag:
        """The flag for a Python bool."""
        return cls.YES if value else cls.NO

    def __bool__(self) -> bool:
        return self is Flag.YES


class TextBool(StrEnum):
    """The English-named booleans (``IsDeleted``, ``isUpdating``) travel as "True"/"False".

    Whether ``IsDeleted`` uses this form or "0"/"1" is not public; we follow ``isUpdating``.
    """

    TRUE = "True"
    """true"""
    FALSE = "False"
    """false"""

    @classmethod
    def of(cls, value: bool) -> TextBool:
        """The wire value for a Python bool."""
        return cls.TRUE if value else cls.FALSE

    def __bool__(self) -> bool:
        return self is TextBool.TRUE
