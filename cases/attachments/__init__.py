"""Attachments: scans kept with a case file (a signed receipt, an agency's written answer).

The bytes live, encrypted, in the "attachments" storage (cases/storage.py; STORAGES),
outside every URL space, under a random name, and leave only through
`views.attachment_download`, which finds the attachment inside the user's tenant scope
(another city's or company's file is a 404).
What a file is comes from its first bytes, never from its name or the browser's
Content-Type: only PDF, PNG and JPEG are kept, and nothing else is ever served back.

Who may add one: city staff and managers while the case is open, and staff of the
contractor that ran the desk, on its own cases (its field staff bring back the signed
receipts). Everyone who sees the case, auditors included, may read them.

services.py holds the rules (what may be kept, by whom) and the audited add and read;
forms.py the upload form; views.py the upload page, the download and the case page's section.
"""
