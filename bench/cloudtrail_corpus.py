#!/usr/bin/env python3
"""Writes N CloudTrail records as CloudTrail delivers them: gzipped files of
one {"Records":[...]} line, 5,000 records each (bench/ingest_cloudtrail.sh).

    bench/cloudtrail_corpus.py RECORDS DIR
"""
import gzip
import json
import os
import sys

PER_FILE = 5000


def record(i):
    t = "2026-11-%02dT%02d:%02d:%02dZ" % (1 + i // 86400 % 28, i // 3600 % 24, i // 60 % 60, i % 60)
    user = {
        "type": "AssumedRole",
        "principalId": "AROAEXAMPLE%06d:ci" % (i % 50),
        "arn": "arn:aws:sts::123456789012:assumed-role/deployer/ci-%d" % (i % 50),
        "accountId": "123456789012",
        "sessionContext": {
            "sessionIssuer": {"type": "Role", "principalId": "AROAEXAMPLE", "arn":
                              "arn:aws:iam::123456789012:role/deployer", "accountId":
                              "123456789012", "userName": "deployer"},
            "attributes": {"creationDate": t, "mfaAuthenticated": "false"}}}
    base = {"eventVersion": "1.09", "userIdentity": user, "eventTime": t,
            "awsRegion": "eu-west-1", "sourceIPAddress": "203.0.113.%d" % (i % 250),
            "userAgent": "aws-sdk-go-v2/1.30.3 os/linux lang/go#1.22.5",
            "requestID": "%08x-1111-2222-3333-%012x" % (i, i),
            "eventID": "%08x-aaaa-bbbb-cccc-%012x" % (i, i), "readOnly": False,
            "eventType": "AwsApiCall", "managementEvent": True,
            "recipientAccountId": "123456789012", "eventCategory": "Management",
            "tlsDetails": {"tlsVersion": "TLSv1.3", "cipherSuite": "TLS_AES_128_GCM_SHA256",
                           "clientProvidedHostHeader": "ec2.eu-west-1.amazonaws.com"}}
    k = i % 10
    if k in (0, 1):
        base.update(eventSource="ec2.amazonaws.com", eventName="RunInstances",
                    requestParameters={"instanceType": "m7g.large", "minCount": 2, "maxCount": 2,
                                       "imageId": "ami-0abc%08x" % i},
                    responseElements={"reservationId": "r-%017x" % i, "instancesSet": {"items": [
                        {"instanceId": "i-%017x" % (2 * i), "instanceType": "m7g.large",
                         "currentState": {"code": 0, "name": "pending"}},
                        {"instanceId": "i-%017x" % (2 * i + 1), "instanceType": "m7g.large",
                         "currentState": {"code": 0, "name": "pending"}}]}})
    elif k == 2:
        base.update(eventSource="sts.amazonaws.com", eventName="AssumeRole",
                    requestParameters={"roleArn": "arn:aws:iam::123456789012:role/reader-%d" % (i % 9),
                                       "roleSessionName": "s%d" % i},
                    responseElements={"assumedRoleUser": {"assumedRoleId": "AROA:s%d" % i}})
    elif k == 3:
        base.update(eventSource="secretsmanager.amazonaws.com", eventName="GetSecretValue",
                    readOnly=True, requestParameters={"secretId":
                    "arn:aws:secretsmanager:eu-west-1:123456789012:secret:db-%d" % (i % 20)})
    elif k == 4:
        base.update(eventSource="kms.amazonaws.com", eventName="Decrypt", readOnly=True,
                    requestParameters={"encryptionAlgorithm": "SYMMETRIC_DEFAULT"},
                    resources=[{"accountId": "123456789012", "type": "AWS::KMS::Key", "ARN":
                                "arn:aws:kms:eu-west-1:123456789012:key/%08x" % (i % 30)}])
    elif k == 5:
        base.update(eventSource="s3.amazonaws.com", eventName="PutBucketPolicy",
                    requestParameters={"bucketName": "logs-%d" % (i % 40), "policy": "{}"},
                    resources=[{"type": "AWS::S3::Bucket", "ARN":
                                "arn:aws:s3:::logs-%d" % (i % 40)}])
    elif k == 6:
        base.update(eventSource="ec2.amazonaws.com", eventName="TerminateInstances",
                    requestParameters={"instancesSet": {"items": [{"instanceId": "i-%017x" % i}]}},
                    responseElements={"instancesSet": {"items": [{"instanceId": "i-%017x" % i,
                        "currentState": {"code": 32, "name": "shutting-down"}}]}})
    elif k == 7:
        base.update(eventSource="signin.amazonaws.com", eventName="ConsoleLogin",
                    eventType="AwsConsoleSignIn", userAgent="Mozilla/5.0",
                    responseElements={"ConsoleLogin": "Success"},
                    additionalEventData={"MFAUsed": "Yes"})
    else:
        base.update(eventSource="ec2.amazonaws.com", eventName="DescribeInstances", readOnly=True,
                    requestParameters={"maxResults": 100})
    return base


def main():
    n, out = int(sys.argv[1]), sys.argv[2]
    os.makedirs(out, exist_ok=True)
    for f in range((n + PER_FILE - 1) // PER_FILE):
        recs = [record(i) for i in range(f * PER_FILE, min(n, (f + 1) * PER_FILE))]
        path = os.path.join(out, "123456789012_CloudTrail_eu-west-1_%05d.json.gz" % f)
        with gzip.open(path, "wt", compresslevel=6) as g:
            g.write(json.dumps({"Records": recs}, separators=(",", ":")))
            g.write("\n")


if __name__ == "__main__":
    main()
