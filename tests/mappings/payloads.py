"""v2 payloads shared by several test modules, in the exact wire shape of homerun-v2.md.

Next to each payload: the literal v1 body the contract (v1-contract.md §6) says it becomes.
Dates were converted by hand: 2023-09-01T09:30:00Z is 1693560600 UNIX seconds, etc.
"""

from __future__ import annotations

from typing import Any

PUBLIC_VACANCY: dict[str, Any] = {
    "id": "job_SnhUsAg1QwTRFIRNUfM6",
    "title": "Senior Product Designer",
    "description": (
        "<h2>About the role</h2><p>We are looking for a <strong>Senior Product Designer"
        "</strong> who loves research &amp; craft. You will shape the Homerun app with our "
        "customers&nbsp;&mdash; from first sketch to shipped feature.</p><ul><li>5+ years of "
        "experience</li><li>A portfolio you are proud of</li></ul>"
    ),
    "application_form_url": "https://acme.homerun.co/senior-product-designer/en/apply",
    "job_url": "https://acme.homerun.co/senior-product-designer/en",
    "share_image_url": "https://cdn.homerun.co/acme/share/senior-product-designer.png",
    "status": "public",
    "type": "Full-time",
    "expires_at": "2023-12-31T23:59:59Z",
    "is_remote": False,
    "location_type": "on-site",
    "location": {
        "name": "Amsterdam HQ",
        "country": "The Netherlands",
        "address": "Keizersgracht 1",
        "postal_code": "1015 AA",
        "city": "Amsterdam",
        "region": "Noord-Holland",
    },
    "department": {"name": "Design"},
    "stages": [{"name": "New"}, {"name": "Interview"}, {"name": "Offer"}, {"name": "Hired"}],
    "total_candidate_count": 12,
    "created_at": "2023-09-01T09:30:00Z",
}

# The v1 job PUBLIC_VACANCY must become (also embedded in applications of that vacancy).
PUBLIC_JOB: dict[str, Any] = {
    "id": "job_SnhUsAg1QwTRFIRNUfM6",
    "title": "Senior Product Designer",
    "status": "open",
    "type": "Full-time",
    "tmp_location": "Amsterdam HQ",
    "tmp_department": "Design",
    "total_candidate_count": 12,
    "application_form_url": "https://acme.homerun.co/senior-product-designer/en/apply",
    "job_url": "https://acme.homerun.co/senior-product-designer/en",
    "seo_content": {
        "title": "Senior Product Designer",
        # The first 160 characters of the plain text: tags gone, entities unescaped.
        "description": (
            "About the role We are looking for a Senior Product Designer who loves research "
            "& craft. You will shape the Homerun app with our customers — from first sketch to"
        ),
        "image": "https://cdn.homerun.co/acme/share/senior-product-designer.png",
    },
    "created_at": 1693560600,
    # Not closed: closed_at is null even though the vacancy has an expiry date.
    "active_time": [{"opened_at": 1693560600, "closed_at": None}],
}

# A job application detail (§8.6, §9.6) fetched with include[]=vacancy&include[]=notes.
# Member order differs from v1's content order on purpose; custom_data has a null value.
APPLICATION_DETAIL: dict[str, Any] = {
    "id": "ap_D3kCkoClbG6n6KlqD0ob",
    "rating": 4.5,
    "retention_period_ends_at": "2025-10-01T00:00:00Z",
    "sourced": False,
    "total_votes": 2,
    "homerun_url": "https://app.homerun.co/candidates/ap_D3kCkoClbG6n6KlqD0ob",
    "created_at": "2023-10-01T08:12:44Z",
    "disqualified": False,
    "hired_at": None,
    "first_reply_at": "2023-10-02T09:00:00.000000Z",
    "personal_info": {
        "first_name": "Sanne",
        "last_name": "de Vries",
        "email": "sanne@example.com",
        "city": "Rotterdam",
        "country": "The Netherlands",
        "date_of_birth": "1990-04-12",
        "phone_number": "012-34567890",
        "photo": None,
    },
    "vacancy_id": "job_SnhUsAg1QwTRFIRNUfM6",
    "stage": {"name": "Interview"},
    "sources": [{"name": "Homerun Career Page"}],
    "vacancy": PUBLIC_VACANCY,
    "website": "https://sanne.design",
    "linkedin": "https://linkedin.com/in/sannedevries",
    "education": "MSc Interaction Design, TU Delft",
    "experience": "6 years at design agencies",
    "pronouns": "she/her",
    "skype": None,
    "facebook": None,
    "twitter": None,
    "github": None,
    "assignment": None,
    "files": [
        {
            "name": "cv-sanne-de-vries.pdf",
            "type": "resume",
            "temporary_download_url": "https://files.homerun.example/ap_D3k/cv.pdf?sig=9f2c",
        },
        {
            "name": "case-study.pdf",
            "type": "assignment",
            "temporary_download_url": "https://files.homerun.example/ap_D3k/case.pdf?sig=41aa",
        },
        {
            "name": "cv-sanne-de-vries.pdf",
            "type": "resume",
            "temporary_download_url": "https://files.homerun.example/ap_D3k/cv-2.pdf?sig=07be",
        },
    ],
    "custom_data": {
        "internal_id": "hr-2131",
        "referral": None,
        "driving_licence": "yes",
        "notice_period_weeks": 4,
    },
    "notes": [
        {
            "display_name": "Ted",
            "is_sensitive": False,
            "note": "Excellent candidate, interview scheduled for Monday.",
            "created_at": "2023-10-02T10:00:00Z",
            "updated_at": "2023-10-02T10:00:00Z",
        },
        {
            # Same instant as Ted's note, another rendering: the second note of that instant.
            "display_name": "Maria",
            "is_sensitive": True,
            "note": "Salary expectation: €5,000 a month.",
            "created_at": "2023-10-02T10:00:00.000000Z",
            "updated_at": "2023-10-03T08:30:00+00:00",
        },
        {
            "display_name": "API v1",
            "is_sensitive": False,
            "note": "Imported from the old ATS.",
            "created_at": "2023-10-04T12:00:00+02:00",
            "updated_at": "2023-10-04T12:00:00+02:00",
        },
    ],
}

# The instant the bridge fetched APPLICATION_DETAIL: file URLs stop working 300 s later.
ISSUED_AT = 1700000000

# Stable ids of the notes and files above. v2 gives them none; the bridge hashes
# (application id, created_at or name, occurrence). Computed once by hand:
#   hashlib.blake2b("\x1f".join(parts).encode(), digest_size=10).hexdigest()
# with parts = ("ap_D3kCkoClbG6n6KlqD0ob", <created_at in UTC, isoformat | file name>,
# "<occurrence>").
# test_ids.py checks these literals against that formula.
NOTE_TED_ID = "no_f77239c2ab0781da84a6"  # "2023-10-02T10:00:00+00:00", 0
NOTE_MARIA_ID = "no_39b4748890416a64da84"  # "2023-10-02T10:00:00+00:00", 1
# The instant is hashed in UTC, so an offset in v2's rendering does not change the id.
NOTE_IMPORT_ID = "no_ed717e979ba490cc5e8c"  # "2023-10-04T10:00:00+00:00", 0
FILE_CV_ID = "fi_608abb8771e9350a9764"  # "cv-sanne-de-vries.pdf", 0
FILE_CASE_ID = "fi_6221dd4e1530fed8867b"  # "case-study.pdf", 0
FILE_CV_AGAIN_ID = "fi_e63b944770f729db723c"  # "cv-sanne-de-vries.pdf", 1

SANNE_CANDIDATE: dict[str, Any] = {
    "id": "ca_D3kCkoClbG6n6KlqD0ob",
    "first_name": "Sanne",
    "last_name": "de Vries",
    "email": "sanne@example.com",
    "phone_number": "012-34567890",
    "city": "Rotterdam",
    "country": "The Netherlands",
    "date_of_birth": "1990-04-12",
    "photo": None,
    "created_at": 1696147964,
    "applications": ["ap_D3kCkoClbG6n6KlqD0ob"],
}

SANNE_FILES: list[dict[str, Any]] = [
    {
        "id": FILE_CV_ID,
        "name": "cv-sanne-de-vries.pdf",
        "type": "resume",
        "url": "https://files.homerun.example/ap_D3k/cv.pdf?sig=9f2c",
        "url_expires_at": 1700000300,
    },
    {
        "id": FILE_CASE_ID,
        "name": "case-study.pdf",
        "type": "assignment",
        "url": "https://files.homerun.example/ap_D3k/case.pdf?sig=41aa",
        "url_expires_at": 1700000300,
    },
    {
        "id": FILE_CV_AGAIN_ID,
        "name": "cv-sanne-de-vries.pdf",
        "type": "resume",
        "url": "https://files.homerun.example/ap_D3k/cv-2.pdf?sig=07be",
        "url_expires_at": 1700000300,
    },
]

SANNE_NOTES: list[dict[str, Any]] = [
    {
        "id": NOTE_TED_ID,
        "body": "Excellent candidate, interview scheduled for Monday.",
        "name": "Ted",
        "is_sensitive": False,
        "created_at": 1696240800,
        "updated_at": 1696240800,
    },
    {
        "id": NOTE_MARIA_ID,
        "body": "Salary expectation: €5,000 a month.",
        "name": "Maria",
        "is_sensitive": True,
        "created_at": 1696240800,
        "updated_at": 1696321800,
    },
    {
        "id": NOTE_IMPORT_ID,
        "body": "Imported from the old ATS.",
        "name": "API v1",
        "is_sensitive": False,
        "created_at": 1696413600,
        "updated_at": 1696413600,
    },
]

# The ten fixed content fields in v1 order (nulls omitted), then custom_data keys.
SANNE_CONTENT: dict[str, Any] = {
    "education": "MSc Interaction Design, TU Delft",
    "experience": "6 years at design agencies",
    "pronouns": "she/her",
    "linkedin": "https://linkedin.com/in/sannedevries",
    "website": "https://sanne.design",
    "internal_id": "hr-2131",
    "driving_licence": "yes",
    "notice_period_weeks": 4,
}

# APPLICATION_DETAIL as the full v1 application, without notes (no expand[]=notes).
SANNE_APPLICATION: dict[str, Any] = {
    "id": "ap_D3kCkoClbG6n6KlqD0ob",
    "candidate": SANNE_CANDIDATE,
    "job": PUBLIC_JOB,
    "stage": "Interview",
    "rating": 4.5,
    "sourced": False,
    "disqualified": False,
    "created_at": 1696147964,
    "hired_at": None,
    "first_reply_at": 1696237200,
    "homerun_url": "https://app.homerun.co/candidates/ap_D3kCkoClbG6n6KlqD0ob",
    "content": SANNE_CONTENT,
    "files": SANNE_FILES,
}
