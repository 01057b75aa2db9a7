"""Sales forms as documents: ``GET /{entity}/{id}/pdf`` and ``POST /{entity}/{id}/send``.

QBO renders a sales form as a PDF and e-mails it to the customer; the send marks the form
``EmailStatus: EmailSent`` with a ``DeliveryInfo`` and, given ``sendTo``, takes that address as the
form's e-mail address. The sandbox sends no mail: it records the delivery and renders a one-page PDF
of the form's heading, lines and total, so clients that store the PDF get a real PDF.
"""

from __future__ import annotations

from datetime import datetime

from qbo_pipeline.sandbox import errors as E
from qbo_pipeline.sandbox.entities import Company
from qbo_pipeline.sandbox.records import meta_time

# entity -> title printed on its PDF; the forms QBO offers as PDF
PDF_TITLES = {"Invoice": "INVOICE", "Estimate": "ESTIMATE", "SalesReceipt": "SALES RECEIPT",
              "CreditMemo": "CREDIT MEMO", "RefundReceipt": "REFUND RECEIPT", "Payment": "PAYMENT"}
# entity -> the field holding the address a send goes to
SEND_ADDRESS = {"Invoice": "BillEmail", "Estimate": "BillEmail", "SalesReceipt": "BillEmail",
                "CreditMemo": "BillEmail", "RefundReceipt": "BillEmail", "Payment": "BillEmail",
                "PurchaseOrder": "POEmail"}


def _pdf_text(value: str) -> str:
    text = value.encode("latin-1", "replace").decode("latin-1")
    return text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")


def render_pdf(entity: str, record: dict, company_name: str) -> bytes:
    """A one-page PDF (PDF 1.4, Helvetica) of a sales form."""
    if entity not in PDF_TITLES:
        raise E.unsupported("Pdf", entity)
    lines = [company_name, PDF_TITLES[entity]]
    party = (record.get("CustomerRef") or {}).get("name") or (record.get("CustomerRef") or {}).get("value")
    for label, value in (("No.", record.get("DocNumber") or record.get("PaymentRefNum")),
                         ("Date", record.get("TxnDate")), ("Customer", party)):
        if value:
            lines.append(f"{label}: {value}")
    for line in record.get("Line") or []:
        if isinstance(line, dict) and line.get("DetailType") != "SubTotalLineDetail":
            label = line.get("Description") or line.get("DetailType") or ""
            lines.append(f"{label}  {float(line.get('Amount') or 0):.2f}")
    lines.append(f"Total: {float(record.get('TotalAmt') or 0):.2f}")
    stream = "BT /F1 11 Tf 14 TL 56 790 Td " + " ".join(f"({_pdf_text(t)}) '" for t in lines) + " ET"
    objects = [
        "<< /Type /Catalog /Pages 2 0 R >>",
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 842] /Resources << /Font << /F1 4 0 R >> >> "
        "/Contents 5 0 R >>",
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
        f"<< /Length {len(stream.encode('latin-1'))} >>\nstream\n{stream}\nendstream",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n{body}\nendobj\n".encode("latin-1")
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += "".join(f"{offset:010d} 00000 n \n" for offset in offsets).encode()
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def send(company: Company, entity: str, record: dict, send_to: str | None, now: datetime) -> dict:
    """Record an e-mail delivery of a form: EmailSent, DeliveryInfo, and ``sendTo`` as its address."""
    field = SEND_ADDRESS.get(entity)
    if field is None:
        raise E.unsupported("Send", entity)
    if send_to:
        if "@" not in send_to or "." not in send_to:
            raise E.business("Invalid email address format", element="sendTo")
        record[field] = {"Address": send_to}
    if not (record.get(field) or {}).get("Address"):
        raise E.business(f"There is no e-mail address to send this transaction to: set {field} or sendTo.",
                         element=field)
    record["EmailStatus"] = "EmailSent"
    record["DeliveryInfo"] = {"DeliveryType": "Email", "DeliveryTime": meta_time(now)}
    record["SyncToken"] = str(int(record["SyncToken"]) + 1)
    record["MetaData"] = {**record.get("MetaData", {}), "LastUpdatedTime": meta_time(now)}
    company.dirty.add((entity, record["Id"]))
    return record
